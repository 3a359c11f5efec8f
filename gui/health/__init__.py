"""Data health: the check's review window, the labelling view and their background tasks."""
