"""Pretrained weights through huggingface_hub against a local hub: progress, a dropped
connection (resumed), Cancel then resume, a corrupt file, offline, listing and removing."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from core.base.errors import Cancelled
from core.model import downloaded, downloads, hub_cache
from core.model.backbones import create_backbone
from core.model.downloads import CorruptDownload, DownloadProgress, HubUnreachable, fetch_weights
from tests.hub_server import HubServer, hub_server, timm_weights

NAME = "mobilenetv3_large_100"
REPO = "timm/mobilenetv3_large_100.ra_in1k"
FILE = "model.safetensors"


@pytest.fixture(scope="module")
def weights() -> bytes:
    return timm_weights(NAME)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    with hub_server() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def test_download_reports_progress_and_lands_in_the_hub_cache(
    hub: HubServer, weights: bytes
) -> None:
    hub.host(REPO, FILE, weights)
    seen: list[DownloadProgress] = []
    path = fetch_weights(NAME, seen.append)
    assert path.read_bytes() == weights
    assert hub_cache.cache_dir() in str(path)
    assert seen[0].done_bytes == 0 and seen[-1].done_bytes == len(weights)
    assert seen[-1].total_bytes == len(weights) and seen[-1].bytes_per_s > 0
    assert "MB" in seen[-1].line() and NAME in seen[-1].line()
    gets = len(hub.gets())
    assert fetch_weights(NAME) == path and len(hub.gets()) == gets  # cached: no request


def test_pretrained_backbone_loads_the_downloaded_weights(hub: HubServer, weights: bytes) -> None:
    from safetensors.torch import load

    hub.host(REPO, FILE, weights)
    model = create_backbone(NAME, pretrained=True)
    expected = load(weights)["conv_stem.weight"]
    torch.testing.assert_close(model.state_dict()["conv_stem.weight"], expected)


def test_a_connection_dropped_half_way_resumes_with_a_range_request(
    hub: HubServer, weights: bytes
) -> None:
    hub.host(REPO, FILE, weights, drop_after=len(weights) // 2)
    path = fetch_weights(NAME)
    assert path.read_bytes() == weights
    ranges = [r for _, _, r in hub.gets()]
    assert ranges[0] is None and ranges[-1] is not None and ranges[-1] != "bytes=0-"


def test_cancel_keeps_the_partial_file_and_the_next_download_resumes(
    hub: HubServer, weights: bytes
) -> None:
    hub.host(REPO, FILE, weights)
    seen: list[int] = []

    def stop_after_a_chunk() -> bool:
        seen.append(1)
        return len(seen) >= 2

    with pytest.raises(Cancelled, match="resumes"):
        fetch_weights(NAME, should_stop=stop_after_a_chunk)
    partial = next(hub_cache.repo_folder(REPO).glob("blobs/*.incomplete"))
    kept = partial.stat().st_size
    assert 0 < kept < len(weights)
    listed = downloaded.list_downloaded()
    assert [(d.backbone, d.partial_bytes, d.complete) for d in listed] == [(NAME, kept, False)]
    path = fetch_weights(NAME)
    assert path.read_bytes() == weights
    assert hub.gets()[-1][2] == f"bytes={kept}-"
    assert not partial.exists()


def test_a_corrupt_file_is_refused_and_removed(hub: HubServer, weights: bytes) -> None:
    hub.host(REPO, FILE, weights, corrupt=True)
    with pytest.raises(CorruptDownload) as info:
        fetch_weights(NAME)
    message = str(info.value)
    assert "corrupt" in message and "removed" in message and "\n" not in message
    assert not list(hub_cache.repo_folder(REPO).glob("blobs/*"))  # nothing half-trusted kept
    assert downloads.cached_weights(NAME) is None


def test_offline_gives_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(HubUnreachable) as info:
        create_backbone(NAME, pretrained=True)
    message = str(info.value)
    assert "\n" not in message and NAME in message
    assert "--no-pretrained" in message and "efficientnet_lite0" in message


def test_listing_and_removing_downloaded_weights(hub: HubServer, weights: bytes) -> None:
    hub.host(REPO, FILE, weights)
    fetch_weights(NAME)
    [entry] = downloaded.list_downloaded()
    assert (entry.backbone, entry.nbytes, entry.complete) == (NAME, len(weights), True)
    assert downloaded.remove_downloaded(NAME) == len(weights)
    assert downloaded.list_downloaded() == []
    assert downloads.cached_weights(NAME) is None


def test_training_downloads_first_and_reports_progress(
    hub: HubServer, weights: bytes, dataset
) -> None:
    from core.base.config import TrainConfig
    from core.training.loop import fit

    hub.host(REPO, FILE, weights)
    events: list[object] = []
    config = TrainConfig(backbone=NAME, epochs=1, image_size=32, batch_size=8, strategy="freeze")
    result = fit(config, dataset, events.append)
    progress = [e for e in events if isinstance(e, DownloadProgress)]
    assert progress and progress[-1].done_bytes == len(weights)
    assert events.index(progress[-1]) < len(events) - 1  # before the training's own events
    assert result.meta.mean == [0.485, 0.456, 0.406]


def test_stopping_during_the_download_cancels_the_training(
    hub: HubServer, weights: bytes, dataset
) -> None:
    from core.base.config import TrainConfig
    from core.training.loop import fit

    hub.host(REPO, FILE, weights)
    config = TrainConfig(backbone=NAME, epochs=1, image_size=32, strategy="freeze")
    with pytest.raises(Cancelled, match="resumes"):
        fit(config, dataset, should_stop=lambda: True)


def test_backbones_cli_downloads_lists_and_removes(
    hub: HubServer, weights: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from core.cli.main import main

    hub.host(REPO, FILE, weights)
    assert main(["backbones", "--download", NAME]) == 0
    captured = capsys.readouterr()
    assert "MB/s" in captured.err and "ready" in captured.out
    assert main(["backbones", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[NAME]["weights"] == "downloaded"
    assert rows[NAME]["downloaded_bytes"] == len(weights)
    assert rows["efficientnet_lite0"]["offline"] is True
    assert rows["vit_base_patch32_clip_224.openai"]["best_for_unusual_styles"] is True
    assert main(["backbones", "--remove", NAME]) == 0
    assert "removed" in capsys.readouterr().out
    assert main(["backbones", "--remove", NAME]) == 2  # nothing left: one clear line
    assert "Nothing is downloaded" in capsys.readouterr().err


def test_the_training_progress_printer_shows_the_download(capsys) -> None:
    import argparse

    from core.cli.progress import TrainProgress

    printer = TrainProgress(argparse.Namespace(quiet=True, json=False))
    for done in (0, 5_000_000, 10_000_000):
        printer(DownloadProgress(NAME, FILE, done, 10_000_000, 2e6, (10e6 - done) / 2e6))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"downloading {NAME}: 0.0 / 10.0 MB")
    assert lines[-1] == f"downloading {NAME}: 10.0 / 10.0 MB, 2.0 MB/s, 0 s left"
