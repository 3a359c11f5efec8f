"""A saved model's inference graph is exported with it: the first predict runs from the cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from core.inference.onnx_cache import file_graph_key
from core.inference.predictor import Predictor
from core.inference.warm import warm_graph_cache
from core.modelfile.checkpoint import read_meta

ROOT = Path(__file__).resolve().parents[2]


def _graph_file(model: Path, home: Path) -> Path:
    meta = read_meta(model)
    key = file_graph_key(model, meta, bool(meta.config.get("tta", False)))
    return home / "cache" / "onnx" / f"{key}.onnx"


def test_the_first_predict_after_warming_runs_from_the_cache(model_path, marquee_home, tmp_path):
    model = shutil.copy(model_path, tmp_path / "model.safetensors")
    cached = warm_graph_cache(model)
    assert cached is not None and cached == _graph_file(Path(model), marquee_home)
    assert cached.is_file()
    poster = tmp_path / "poster.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (90, 60, 3), np.uint8)).save(poster)
    code = (
        "import json, sys\n"
        "from core.inference.predictor import Predictor\n"
        f"p = Predictor.from_file({str(model)!r})\n"
        f"r = p.predict([{str(poster)!r}])[0]\n"
        "print(json.dumps({'runtime': p.runtime, 'torch': 'torch' in sys.modules,"
        " 'probs': [float(x) for x in r.probabilities]}))\n"
    )
    env = {**os.environ, "MARQUEE_HOME": str(marquee_home)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout.strip().splitlines()[-1])
    assert first["runtime"] == "onnx" and first["torch"] is False  # nothing exported now
    torch_probs = Predictor.from_file(model, runtime="torch").predict([poster])[0].probabilities
    np.testing.assert_allclose(first["probs"], torch_probs, atol=1e-4)


def test_a_second_warm_finds_the_graph_and_thresholds_edits_keep_it(
    model_path, marquee_home, tmp_path
):
    from core.cli.main import main

    model = Path(shutil.copy(model_path, tmp_path / "model.safetensors"))
    graph = warm_graph_cache(model)
    assert graph is not None
    stamp = graph.stat().st_mtime_ns
    label = read_meta(model).label_names[0]
    assert main(["thresholds", str(model), "--set", f"{label}:0.3", "--json"]) == 0
    assert read_meta(model).thresholds[0] == 0.3
    assert _graph_file(model, marquee_home) == graph  # weights unchanged: the same graph
    assert warm_graph_cache(model) == graph and graph.stat().st_mtime_ns == stamp


def test_thresholds_set_exports_a_graph_that_is_missing(model_path, marquee_home, tmp_path):
    from core.cli.main import main

    model = Path(shutil.copy(model_path, tmp_path / "model.safetensors"))
    graph = _graph_file(model, marquee_home)
    graph.unlink(missing_ok=True)
    label = read_meta(model).label_names[0]
    assert main(["thresholds", str(model), "--set", f"{label}:0.4", "--json"]) == 0
    assert graph.is_file()


def test_a_graph_that_cannot_be_made_is_logged_not_raised(marquee_home, tmp_path, caplog):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    assert warm_graph_cache(broken) is None
    assert "broken.safetensors" in caplog.text


def test_a_finished_run_has_its_graph_cached(trained, dataset, marquee_home, tmp_path):
    """The run writer (the app's training, `marquee train`, torchrun) exports it on save."""
    from core.runs import RunStore, RunWriter

    writer = RunWriter.start(trained.result.meta.config, dataset, store=RunStore(tmp_path))
    writer.finish(trained.result)
    saved = writer.folder / "model.safetensors"
    assert _graph_file(saved, marquee_home).is_file()
