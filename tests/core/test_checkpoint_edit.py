"""core.modelfile.checkpoint: editing thresholds in place (metadata only), the digest."""

from __future__ import annotations

import json
import shutil
import struct
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from core.base.errors import UsageError
from core.modelfile.checkpoint import (
    METADATA_KEY,
    load_model,
    read_meta,
    reset_thresholds,
    save_model,
    short_digest,
    weights_digest,
    write_thresholds,
)


@pytest.fixture
def model_copy(model_path: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(model_path, tmp_path / "model.safetensors"))


def tensor_bytes(path: Path) -> bytes:
    """Everything after the safetensors header: the raw tensor data."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    return raw[8 + size :]


def test_write_thresholds_changes_only_the_metadata(model_copy: Path) -> None:
    before_meta = read_meta(model_copy)
    before_digest = weights_digest(model_copy)
    before_data = tensor_bytes(model_copy)

    meta = write_thresholds(model_copy, {"Romance": 0.37})

    after = read_meta(model_copy)
    assert asdict(after) == asdict(meta)
    expected = list(before_meta.thresholds)
    expected[1] = 0.37
    assert after.thresholds == expected
    assert after.tuned_thresholds == before_meta.thresholds
    unchanged = {
        k: v for k, v in asdict(after).items() if k not in ("thresholds", "tuned_thresholds")
    }
    assert unchanged == {
        k: v for k, v in asdict(before_meta).items() if k not in ("thresholds", "tuned_thresholds")
    }
    assert weights_digest(model_copy) == before_digest  # the tensors are the same
    assert tensor_bytes(model_copy) == before_data  # byte for byte
    assert [p.name for p in model_copy.parent.iterdir()] == ["model.safetensors"]  # no temp file
    load_model(model_copy)  # still a loadable model


def test_later_edits_keep_the_tuned_values_and_reset_restores_them(model_copy: Path) -> None:
    tuned = read_meta(model_copy).thresholds
    write_thresholds(model_copy, [0.1, 0.2, 0.3])
    write_thresholds(model_copy, {"Crime": 0.9})
    meta = read_meta(model_copy)
    assert meta.thresholds == [0.1, 0.2, 0.9]
    assert meta.tuned_thresholds == tuned
    restored = reset_thresholds(model_copy)
    assert restored.thresholds == tuned and restored.tuned_thresholds is None
    assert read_meta(model_copy).thresholds == tuned


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"Western": 0.5}, "Action, Romance, Crime"),
        ({"Action": 1.5}, "between 0 and 1"),
        ({"Action": float("nan")}, "between 0 and 1"),
        ([0.5, 0.5], "give 3 thresholds"),
    ],
)
def test_bad_thresholds_are_refused_and_the_file_is_untouched(
    model_copy: Path, thresholds: object, message: str
) -> None:
    original = model_copy.read_bytes()
    with pytest.raises(UsageError, match=message):
        write_thresholds(model_copy, thresholds)
    assert model_copy.read_bytes() == original


def test_digest_is_the_same_from_a_module_a_state_dict_and_the_file(
    trained, tmp_path: Path
) -> None:
    model = trained.result.model
    path = save_model(tmp_path / "m.safetensors", model, trained.result.meta)
    digest = weights_digest(model)
    assert weights_digest(model.state_dict()) == digest
    assert weights_digest(path) == digest
    assert short_digest(path) == digest[:12]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["head.1.bias"][0] += 1e-3
    assert weights_digest(state) != digest


def test_a_header_length_starting_with_0x80_is_not_mistaken_for_a_pickle(
    trained, tmp_path: Path
) -> None:
    """The first byte of a safetensors file is its header length's low byte: 0x80 is valid."""
    path = tmp_path / "m.safetensors"
    meta = asdict(trained.result.meta)
    for pad in range(300):
        meta["config"] = {"note": "x" * pad}
        save_file({"x": torch.zeros(2)}, str(path), metadata={METADATA_KEY: json.dumps(meta)})
        if path.read_bytes()[:1] == b"\x80":
            break
    assert path.read_bytes()[:1] == b"\x80"
    assert read_meta(path).label_names == ["Action", "Romance", "Crime"]
