"""The Runs page: every training as a row to find, compare, reopen and prune."""
