"""What has been downloaded into the hub cache, backbone by backbone, and removing it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from core.base.errors import BackboneUnavailable
from core.model.backbones import get_backbone_info, list_backbones
from core.model.downloads import cached_weights
from core.model.hub_cache import cache_dir, hub_source, repo_folder


@dataclass(frozen=True)
class DownloadedWeights:
    """One backbone's folder in the hub cache."""

    backbone: str
    repo: str
    folder: Path
    nbytes: int  # finished files
    partial_bytes: int  # an interrupted download, resumed next time
    complete: bool


def list_downloaded() -> list[DownloadedWeights]:
    """The backbones with anything in the hub cache (finished or partial), registry order."""
    found: list[DownloadedWeights] = []
    if not any(Path(cache_dir()).glob("models--timm--*")):
        return found  # nothing of timm's here: no need to import timm to name repositories
    for info in list_backbones():
        if info.bundled_weights:
            continue
        repo = hub_source(info.name)[0]
        blobs = repo_folder(repo) / "blobs"
        if not blobs.is_dir():
            continue
        files = [p for p in blobs.iterdir() if p.is_file() and not p.name.endswith(".lock")]
        done = sum(p.stat().st_size for p in files if not p.name.endswith(".incomplete"))
        partial = sum(p.stat().st_size for p in files if p.name.endswith(".incomplete"))
        complete = cached_weights(info.name) is not None
        found.append(DownloadedWeights(info.name, repo, blobs.parent, done, partial, complete))
    return found


def remove_downloaded(name: str) -> int:
    """Delete a backbone's downloaded weights (finished and partial); the bytes freed."""
    info = get_backbone_info(name)
    if info.bundled_weights:
        raise BackboneUnavailable(f"'{name}' uses installed weights; nothing was downloaded.")
    entry = next((d for d in list_downloaded() if d.backbone == name), None)
    if entry is None:
        raise BackboneUnavailable(f"Nothing is downloaded for '{name}' in {cache_dir()}.")
    # The whole repository folder: blobs, snapshot links, refs and partial files go together.
    shutil.rmtree(entry.folder)
    return entry.nbytes + entry.partial_bytes
