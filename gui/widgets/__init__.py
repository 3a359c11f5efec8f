"""Reusable widgets: plots, probability bars, the drop area, thumbnails."""
