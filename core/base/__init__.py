"""The ground floor: errors, limits, atomic files, paths, threads, devices and training settings."""
