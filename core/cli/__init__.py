"""The `marquee` command line: argparse front end, subcommands, progress, the torchrun entry."""
