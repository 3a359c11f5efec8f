"""Where downloaded backbone weights live (the Hugging Face hub cache), what is there, and
removing it.

The cache folder and hub address are read from the environment on every call
(`HF_HUB_CACHE`, `HF_HOME`, `HF_ENDPOINT`), so a test or a mirror can redirect them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.base.errors import BackboneUnavailable

DEFAULT_FILES = ["model.safetensors", "pytorch_model.bin"]  # timm's order: safetensors first


@dataclass(frozen=True)
class DownloadedWeights:
    """One backbone's folder in the hub cache."""

    backbone: str
    repo: str
    folder: Path
    nbytes: int  # finished files
    partial_bytes: int  # an interrupted download, resumed next time
    complete: bool


def cache_dir() -> str:
    """The hub cache folder (HF_HUB_CACHE, else HF_HOME/hub, else the hub's default)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def endpoint() -> str:
    """The hub's address (HF_ENDPOINT for a mirror or a test server)."""
    if os.environ.get("HF_ENDPOINT"):
        return os.environ["HF_ENDPOINT"].rstrip("/")
    from huggingface_hub import constants

    return constants.ENDPOINT


def hub_source(name: str) -> tuple[str, str | None, list[str]]:
    """timm's hub repository, revision and candidate file names for `name`'s weights."""
    import timm

    cfg = timm.models.get_pretrained_cfg(name)
    hub_id = cfg.hf_hub_id if cfg is not None else None
    if cfg is None or not hub_id:
        raise BackboneUnavailable(
            f"'{name}' has no downloadable weights: train it with --no-pretrained, "
            "or pass a state dict with --weights FILE."
        )
    repo, _, revision = hub_id.partition("@")
    filenames = [cfg.hf_hub_filename] if cfg.hf_hub_filename else list(DEFAULT_FILES)
    return repo, revision or None, filenames


def repo_folder(repo: str) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    return Path(cache_dir()) / repo_folder_name(repo_id=repo, repo_type="model")


def list_downloaded() -> list[DownloadedWeights]:
    """The backbones with anything in the hub cache (finished or partial), registry order."""
    from core.model.backbones import list_backbones
    from core.model.downloads import cached_weights

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
    from core.model.backbones import get_backbone_info

    info = get_backbone_info(name)
    if info.bundled_weights:
        raise BackboneUnavailable(f"'{name}' uses installed weights; nothing was downloaded.")
    entry = next((d for d in list_downloaded() if d.backbone == name), None)
    if entry is None:
        raise BackboneUnavailable(f"Nothing is downloaded for '{name}' in {cache_dir()}.")
    # The whole repository folder: blobs, snapshot links, refs and partial files go together.
    shutil.rmtree(entry.folder)
    return entry.nbytes + entry.partial_bytes
