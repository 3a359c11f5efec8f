"""Kept for job folders exported before core/ had packages: `python -m core.distributed JOB`
runs what new jobs run as `python -m core.cli.torchrun JOB`."""

from core.cli.torchrun import main

if __name__ == "__main__":
    raise SystemExit(main())
