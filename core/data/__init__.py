"""Image collections in: readers, validation, samples, downloads and the on-disk image cache."""
