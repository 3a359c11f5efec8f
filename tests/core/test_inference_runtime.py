"""The pipeline's runtimes: ONNX Runtime by default on the CPU, its exported graph cached
and rebuilt when damaged, a torch fallback that says so, and decoding in threads."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.base.errors import ConfigError, ImageDecodeError
from core.inference.pipeline import InferencePipeline
from core.inference.predictor import Predictor

ROOT = Path(__file__).resolve().parents[2]


def _cached_graphs(home: Path) -> list[Path]:
    return sorted(home.rglob("onnx/*.onnx"))


def test_the_cpu_default_is_onnx_runtime_with_one_cached_graph(model_path, marquee_home) -> None:
    first = InferencePipeline.from_file(model_path, device="cpu")
    assert first.runtime == "onnx"
    (graph,) = _cached_graphs(marquee_home)
    stamp = graph.stat().st_mtime_ns
    second = InferencePipeline.from_file(model_path, device="cpu")
    assert _cached_graphs(marquee_home) == [graph] and graph.stat().st_mtime_ns == stamp
    assert second.graph is None  # ran from the cached graph: no torch model was built
    assert second.tta == first.tta and second.model is not None  # built when asked for
    torch_run = InferencePipeline.from_file(model_path, device="cpu", runtime="torch")
    assert torch_run.runtime == "torch"
    size = first.meta.image_size
    arrays = [np.full((size, size, 3), v, np.uint8) for v in (0, 90, 255)]
    np.testing.assert_allclose(second.run(arrays), torch_run.run(arrays), atol=1e-4)


def test_a_damaged_cached_graph_is_exported_again(model_path, marquee_home, caplog) -> None:
    InferencePipeline.from_file(model_path, device="cpu")
    (graph,) = _cached_graphs(marquee_home)
    graph.write_bytes(b"\x08\x07 not an onnx file")
    with caplog.at_level(logging.WARNING, logger="marquee.inference"):
        again = InferencePipeline.from_file(model_path, device="cpu")
    assert again.runtime == "onnx" and "damaged" in caplog.text
    assert graph.stat().st_size > 10_000  # a real graph replaced the garbage


def test_without_onnx_the_cpu_falls_back_to_torch_and_says_so(
    model_path, monkeypatch, caplog
) -> None:
    from core.inference import pipeline as pipelines

    def broken(*_args, **_kwargs):
        raise RuntimeError("no exporter for this operator")

    monkeypatch.setattr(pipelines, "onnx_session", broken)
    with caplog.at_level(logging.WARNING, logger="marquee.inference"):
        pipeline = InferencePipeline.from_file(model_path, device="cpu")
    assert pipeline.runtime == "torch" and "using torch" in caplog.text
    with pytest.raises(ConfigError, match="cannot run on ONNX Runtime"):
        InferencePipeline.from_file(model_path, device="cpu", runtime="onnx")


def test_decoding_in_threads_keeps_order_and_reports_each_bad_file(model_path, tmp_path) -> None:
    predictor = Predictor.from_file(model_path, device="cpu")
    paths = []
    for i in range(9):
        path = tmp_path / f"p{i}.jpg"
        if i == 4:
            path.write_bytes(b"not a jpeg")
        else:
            Image.new("RGB", (90, 130), (25 * i, 40, 200 - 20 * i)).save(path)
        paths.append(path)
    decoded = predictor.pipeline.decode_many(paths)
    assert isinstance(decoded[4], ImageDecodeError) and "p4.jpg" in str(decoded[4])
    for i in (0, 8):
        np.testing.assert_array_equal(decoded[i], predictor.pipeline.decode(paths[i]))
    results = predictor.predict(paths, batch_size=4)
    assert [r.ok for r in results] == [i != 4 for i in range(9)]
    assert [Path(r.source).name for r in results] == [p.name for p in paths]


def test_a_second_predict_on_the_cpu_never_imports_torch(model_path, marquee_home, tmp_path):
    """The cached graph path skips torch's import (seconds), and gives the same numbers."""
    poster = tmp_path / "poster.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (90, 60, 3), np.uint8)).save(poster)
    code = (
        "import json, sys\n"
        "from core.cli.main import main\n"
        f"code = main(['predict', {str(model_path)!r}, {str(poster)!r}, '--json'])\n"
        "print(json.dumps({'code': code, 'torch': 'torch' in sys.modules}))\n"
    )

    def run() -> dict:
        env = {**os.environ, "MARQUEE_HOME": str(marquee_home)}
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        document, status = done.stdout.rsplit("\n{", 1)  # the command's JSON, then ours
        return {**json.loads("{" + status), "result": json.loads(document)}

    first, second = run(), run()
    assert first["code"] == second["code"] == 0
    assert first["torch"] is True  # the first run exported the graph with torch
    assert second["torch"] is False
    probabilities = [r["result"]["predictions"][0]["probabilities"] for r in (first, second)]
    assert probabilities[0] == probabilities[1]
