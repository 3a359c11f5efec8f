"""Programs the core tests start in other processes (torchrun workers)."""
