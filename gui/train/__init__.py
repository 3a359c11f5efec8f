"""The Train page: settings, live plots, results, evaluation and export."""
