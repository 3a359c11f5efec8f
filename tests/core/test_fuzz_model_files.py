"""Hostile and damaged model files: refused with one line before anything is built or run.

Sizes in the header are range-checked and must agree with the tensors the file ships;
the weights digest the file records is verified; NaN/Inf weights and dtypes the
architecture never uses are refused. A prediction that comes out NaN is an error, never
`"probabilities": null, "error": null`, and `--json` output is strict JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from core.modelfile.checkpoint import METADATA_KEY, read_meta
from tests.core.test_fuzz_inputs import assert_user_error, run_cli, tiny_image


def _save(target: Path, state: dict[str, torch.Tensor], meta: dict) -> Path:
    save_file(state, str(target), metadata={METADATA_KEY: json.dumps(meta)})
    return target


@pytest.fixture(scope="module")
def base(model_path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    return load_file(str(model_path)), asdict(read_meta(model_path))


def _config(**changes: object) -> Callable[[dict], dict]:
    return lambda meta: {**meta, "config": {**meta["config"], **changes}}


HEAD_HEADERS: dict[str, Callable[[dict], dict]] = {
    "hidden-1e9": _config(head="mlp", head_hidden=10**9),
    "hidden-2^40": _config(head="mlp", head_hidden=2**40),
    "hidden-minus-one": _config(head="mlp", head_hidden=-1),
    "hidden-zero": _config(head="mlp", head_hidden=0),
    "mlp-without-its-tensors": _config(head="mlp", head_hidden=512),
    "bogus-head": _config(head="transformer"),
}


@pytest.mark.parametrize("command", ["info", "predict"])
@pytest.mark.parametrize("case", list(HEAD_HEADERS))
def test_head_sizes_are_checked_before_anything_is_built(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    base: tuple[dict, dict],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    command: str,
) -> None:
    state, meta = base
    model = _save(tmp_path / "m.safetensors", state, HEAD_HEADERS[case](meta))

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a layer was built before the header was checked")

    monkeypatch.setattr("core.model.classifier.build_head", never)
    args = [model, tiny_image(tmp_path / "a.png")] if command == "predict" else [model]
    code, _, err = run_cli(capsys, command, *args)
    if command == "info" and case == "mlp-without-its-tensors":
        assert code == 0, err  # a sane header: only loading compares it with the tensors
        return
    line = assert_user_error(code, err)
    assert "m.safetensors: invalid model file" in line or "m.safetensors: its weights" in line


def _flip_bytes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    weight = state["head.1.weight"].clone()
    raw = weight.view(-1).view(torch.uint8)
    raw[100:164] ^= 0x5A  # 64 flipped bytes
    return {**state, "head.1.weight": weight}


def _head(value: float) -> Callable[[dict], dict]:
    return lambda s: {**s, "head.1.weight": torch.full_like(s["head.1.weight"], value)}


def _retyped(dtype: torch.dtype) -> Callable[[dict], dict]:
    return lambda s: {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in s.items()}


DAMAGED: dict[str, tuple[Callable[[dict], dict], str]] = {
    "flipped-bytes": (_flip_bytes, "digest"),
    "nan-head": (_head(float("nan")), "NaN"),
    "inf-head": (_head(float("inf")), "NaN or infinite"),
    "int8": (_retyped(torch.int8), "I8"),
    "float16": (_retyped(torch.float16), "F16"),
    "bool": (_retyped(torch.bool), "BOOL"),
}


# Without a digest (files from before it), flipped bytes that stay finite cannot be told.
DAMAGE_CASES = [(case, True) for case in DAMAGED] + [
    (case, False) for case in DAMAGED if case != "flipped-bytes"
]


@pytest.mark.parametrize(("case", "keep_digest"), DAMAGE_CASES)
def test_damaged_weights_are_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    base: tuple[dict, dict],
    case: str,
    keep_digest: bool,
) -> None:
    state, meta = base
    damage, reason = DAMAGED[case]
    if not keep_digest:  # a file from before digests: the other checks must still hold
        meta = {key: value for key, value in meta.items() if key != "weights_sha256"}
    assert keep_digest is (meta.get("weights_sha256") is not None)
    model = _save(tmp_path / "m.safetensors", damage(dict(state)), meta)
    code, _, err = run_cli(capsys, "predict", model, tiny_image(tmp_path / "a.png"), "--json")
    line = assert_user_error(code, err)
    assert "m.safetensors: invalid model file" in line
    assert reason in line or "digest" in line


def test_editing_thresholds_keeps_the_digest_valid(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_path: Path
) -> None:
    copy = tmp_path / "m.safetensors"
    copy.write_bytes(model_path.read_bytes())
    assert run_cli(capsys, "thresholds", copy, "--set", "Action=0.3")[0] == 0
    image = tiny_image(tmp_path / "a.png")
    code, out, err = run_cli(capsys, "predict", copy, image, "--json", "--tuned")
    assert code == 0, err
    assert json.loads(out)["thresholds"]["Action"] == pytest.approx(0.3)


# ------------------------------------------------------------------ NaN results, strict JSON
def test_a_nan_prediction_is_an_error_not_a_silent_null() -> None:
    from core.inference.predictions import Prediction, PredictionSet

    predictions = PredictionSet(["A", "B"])
    predictions.record([Prediction("x.png", np.array([np.nan, 0.5], np.float32), None)])
    row = predictions.rows()[0]
    assert row["probabilities"] is None
    assert row["error"] and "NaN" in row["error"]


def _strict(text: str) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_json_output_is_strict_json_without_nan() -> None:
    import contextlib
    import io

    from core.cli.console import print_json

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_json({"ap": float("nan"), "nested": [float("inf"), np.float32("nan"), 0.5]})
    assert _strict(buffer.getvalue()) == {"ap": None, "nested": [None, None, 0.5]}


def test_evaluate_json_with_a_label_without_positives_is_strict_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_path: Path, make_data_dir
) -> None:
    root = make_data_dir(tmp_path / "data", 6, 6)
    for split in ("train", "val"):
        csv = root / split / "metadata.csv"
        lines = csv.read_text().splitlines()
        rows = [line.rsplit(",", 1)[0] + ",0" for line in lines[1:]]  # no Crime at all
        csv.write_text("\n".join([lines[0], *rows]) + "\n")
    code, out, err = run_cli(capsys, "evaluate", model_path, "--data", root, "--json")
    assert code == 0, err
    document = _strict(out)
    crime = next(p for p in document["per_label"] if p["name"] == "Crime")
    assert crime["ap"] is None


# ------------------------------------------------------------------ spreadsheet formulas
FORMULAS = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_csv_cells_that_a_spreadsheet_would_run_are_prefixed(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    base: tuple[dict, dict],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import csv

    state, meta = base
    names = [FORMULAS[0], "Romance", "Crime"]
    model = _save(tmp_path / "m.safetensors", state, {**meta, "label_names": names})
    tiny_image(tmp_path / "=cmd.png")
    monkeypatch.chdir(tmp_path)  # the file cell is the name as given: "=cmd.png"
    out = tmp_path / "out.csv"
    code, _, err = run_cli(capsys, "predict", model, "=cmd.png", "--csv", out)
    assert code == 0, err
    header, row = list(csv.reader(out.open(newline="")))
    assert header[1] == "'" + FORMULAS[0]
    assert row[0].startswith("'=")


@pytest.mark.parametrize("text", FORMULAS)
def test_every_formula_start_is_escaped(text: str) -> None:
    from core.inference.predictions import csv_cell

    assert csv_cell(text) == "'" + text
    assert csv_cell("Action") == "Action"
