"""Data health: label issues (confident learning), duplicates and leaks, strays, fixes."""
