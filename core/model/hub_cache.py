"""Where downloaded backbone weights live: the Hugging Face hub cache and its addresses.

The cache folder and hub address are read from the environment on every call
(`HF_HUB_CACHE`, `HF_HOME`, `HF_ENDPOINT`), so a test or a mirror can redirect them.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.base.errors import BackboneUnavailable

DEFAULT_FILES = ["model.safetensors", "pytorch_model.bin"]  # timm's order: safetensors first


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
