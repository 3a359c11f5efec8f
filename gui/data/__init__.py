"""The Data page: open a data set, read its counts, labels, thumbnails and validation report."""
