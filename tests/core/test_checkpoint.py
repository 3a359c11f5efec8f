"""core.modelfile.checkpoint: the .safetensors model file, its validation, and refusing pickles."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from core.base.errors import OutputError
from core.modelfile.checkpoint import (
    FORMAT_VERSION,
    METADATA_KEY,
    ModelFileError,
    load_model,
    read_meta,
    save_model,
    weights_digest,
)


@pytest.fixture
def meta_dict(trained) -> dict:
    return asdict(trained.result.meta)


def write_with_metadata(path: Path, metadata: dict[str, str] | None) -> Path:
    """A real safetensors file holding one small tensor and the given header metadata."""
    save_file({"x": torch.zeros(2)}, str(path), metadata=metadata)
    return path


def test_round_trip_gives_the_same_outputs_and_meta(trained, tmp_path: Path) -> None:
    path = save_model(tmp_path / "sub" / "m.safetensors", trained.result.model, trained.result.meta)
    model, meta = load_model(path)
    digest = weights_digest(trained.result.model)
    assert asdict(meta) == {**asdict(trained.result.meta), "weights_sha256": digest}
    assert not model.training
    source = trained.result.model.eval()
    images = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        torch.testing.assert_close(model(images), source(images), rtol=0, atol=0)


def test_read_meta_reads_only_the_header(trained) -> None:
    meta = read_meta(trained.path)
    assert meta.label_names == ["Action", "Romance", "Crime"]
    assert meta.backbone == "efficientnet_lite0"
    assert meta.image_size == 64
    assert meta.format_version == FORMAT_VERSION
    assert len(meta.thresholds) == 3


def test_save_is_atomic_and_leaves_no_temp_files(trained, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_model(path, trained.result.model, trained.result.meta)
    save_model(path, trained.result.model, trained.result.meta)  # overwrite in place
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_failed_save_keeps_the_old_file_and_no_temp(
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import safetensors.torch

    path = tmp_path / "m.safetensors"
    save_model(path, trained.result.model, trained.result.meta)
    before = path.read_bytes()

    def failing_save(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", failing_save)
    with pytest.raises(OutputError, match="disk full"):
        save_model(path, trained.result.model, trained.result.meta)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"thresholds": [0.5, 0.5]}, "thresholds must be 3 numbers"),
        ({"thresholds": [0.5, 2.0, 0.5]}, "thresholds must be 3 numbers in"),
        ({"thresholds": [0.5, "high", 0.5]}, "thresholds"),
        ({"backbone": "vgg_from_the_internet"}, "Unknown backbone 'vgg_from_the_internet'"),
        ({"format_version": FORMAT_VERSION + 1}, "newer Marquee"),
        ({"format_version": None}, "missing format_version"),
        ({"label_names": []}, "label_names"),
        ({"label_names": ["Action", "Action", "Crime"]}, "duplicate label names"),
        ({"image_size": 100000}, "image_size"),
        ({"std": [0.2, 0.0, 0.2]}, "std"),
        ({"metrics": [1, 2]}, "metrics must be a JSON dict"),
    ],
)
def test_tampered_metadata_is_refused_clearly(
    meta_dict: dict, tmp_path: Path, change: dict, message: str
) -> None:
    path = write_with_metadata(
        tmp_path / "tampered.safetensors", {METADATA_KEY: json.dumps({**meta_dict, **change})}
    )
    with pytest.raises(ModelFileError, match=message) as info:
        read_meta(path)
    assert "tampered.safetensors" in str(info.value)


def test_metadata_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = write_with_metadata(tmp_path / "m.safetensors", {METADATA_KEY: "{not json"})
    with pytest.raises(ModelFileError, match="not valid JSON"):
        read_meta(path)


def test_metadata_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = write_with_metadata(tmp_path / "m.safetensors", {METADATA_KEY: "[1, 2]"})
    with pytest.raises(ModelFileError, match="not a JSON object"):
        read_meta(path)


def test_unknown_extra_metadata_fields_are_ignored(meta_dict: dict, tmp_path: Path) -> None:
    document = json.dumps({**meta_dict, "from_the_future": {"x": 1}})
    path = write_with_metadata(tmp_path / "m.safetensors", {METADATA_KEY: document})
    assert read_meta(path).label_names == meta_dict["label_names"]


@pytest.mark.parametrize("metadata", [None, {"format": "pt"}])
def test_safetensors_without_marquee_metadata_is_refused(
    tmp_path: Path, metadata: dict | None
) -> None:
    path = write_with_metadata(tmp_path / "other.safetensors", metadata)
    with pytest.raises(ModelFileError, match="not a Marquee model"):
        load_model(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "nope.safetensors")


def test_truncated_model_is_refused(trained, tmp_path: Path) -> None:
    data = trained.path.read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="damaged"):
        load_model(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, I am not a model", b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage!!!!!!!"],
    ids=["empty", "text", "bad-header"],
)
def test_garbage_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=r"garbage\.safetensors"):
        load_model(path)


@pytest.mark.parametrize("name", ["model.pt", "model.safetensors", "model.bin"])
def test_hostile_torch_pickle_is_refused_without_running_code(
    tmp_path: Path, hostile_torch_file: Callable, name: str
) -> None:
    marker = tmp_path / "pwned"
    path = hostile_torch_file(tmp_path / name, marker)
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(path)
    with pytest.raises(ModelFileError):
        read_meta(path)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["model.pkl", "model.safetensors"])
def test_hostile_raw_pickle_is_refused_without_running_code(
    tmp_path: Path, hostile_pickle: Callable, name: str
) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / name
    path.write_bytes(hostile_pickle(marker))
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(path)
    assert not marker.exists()


def test_weights_for_another_backbone_are_refused(trained, meta_dict: dict, tmp_path: Path) -> None:
    tensors = {k: v.contiguous() for k, v in trained.result.model.state_dict().items()}
    claims_resnet = json.dumps({**meta_dict, "backbone": "resnet18"})
    path = tmp_path / "m.safetensors"
    save_file(tensors, str(path), metadata={METADATA_KEY: claims_resnet})
    with pytest.raises(ModelFileError, match="do not fit a resnet18 with 3 labels"):
        load_model(path)


def test_a_file_without_the_weights_is_refused(meta_dict: dict, tmp_path: Path) -> None:
    path = write_with_metadata(tmp_path / "m.safetensors", {METADATA_KEY: json.dumps(meta_dict)})
    with pytest.raises(ModelFileError, match="do not fit a efficientnet_lite0 with 3 labels"):
        load_model(path)


def test_weights_with_another_label_count_are_refused(
    trained, meta_dict: dict, tmp_path: Path
) -> None:
    tensors = {k: v.contiguous() for k, v in trained.result.model.state_dict().items()}
    four = {**meta_dict, "label_names": ["a", "b", "c", "d"], "thresholds": [0.5] * 4}
    path = tmp_path / "m.safetensors"
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(four)})
    with pytest.raises(ModelFileError, match="4 labels"):
        load_model(path)
