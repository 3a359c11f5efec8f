"""One inference pipeline: for a model WITH flip TTA (the CPU default), `marquee predict`,
`serve` on torch, `serve --runtime onnx` and the exported ONNX file fed as docs/serving.md says
give the same probabilities (max abs difference 1e-4), and Grad-CAM shows the same number."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from core.base.config import TrainConfig
from core.inference.explain import Explainer
from core.inference.onnx_export import export_onnx, read_onnx_metadata
from core.inference.predictor import Predictor
from core.modelfile.checkpoint import save_model
from core.training.loop import fit
from tests.core.serving_helpers import runtime_for, start_server

TOLERANCE = 1e-4
JPEG = {"content-type": "image/jpeg"}


@pytest.fixture(scope="module")
def tta_model(tmp_path_factory: pytest.TempPathFactory, dataset) -> Path:
    config = TrainConfig(
        epochs=1, image_size=48, batch_size=8, num_threads=1, tta=True, multi_stage=True
    )
    result = fit(config, dataset)
    assert result is not None and result.meta.config["tta"] is True
    return save_model(tmp_path_factory.mktemp("tta") / "tta.safetensors", result.model, result.meta)


@pytest.fixture(scope="module")
def posters(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Real-shaped posters: larger than the model's input and not square (resize + draft)."""
    folder = tmp_path_factory.mktemp("posters")
    rng = np.random.default_rng(7)
    paths = []
    for i in range(5):
        pixels = rng.integers(0, 255, (150, 100, 3), dtype=np.uint8)
        pixels[: 30 + 20 * i, : 40 + 10 * i] = (200, 30 + 40 * i, 30)  # asymmetric: flip matters
        path = folder / f"poster{i}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def _as_documented(path: Path, size: int) -> np.ndarray:
    """docs/serving.md's recipe for feeding the exported file."""
    img = Image.open(path)
    img.draft("RGB", (size, size))
    return np.asarray(img.convert("RGB").resize((size, size), Image.BILINEAR, reducing_gap=3.0))


def _served(model: Path, runtime: str, posters: list[Path]) -> np.ndarray:
    server = start_server(runtime_for(model, runtime), max_wait_ms=0)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            rows = []
            for path in posters:
                response = client.post("/v1/predict", content=path.read_bytes(), headers=JPEG)
                assert response.status_code == 200, response.text
                doc = response.json()
                rows.append([doc["probabilities"][label] for label in doc["labels"]])
    finally:
        server.stop()
    return np.asarray(rows)


def test_every_inference_path_agrees_for_a_model_with_tta(
    tta_model: Path, posters: list[Path], tmp_path: Path
) -> None:
    import onnxruntime as ort

    predictor = Predictor.from_file(tta_model, device="cpu")
    assert predictor.tta
    predicted = np.stack([p.probabilities for p in predictor.predict(posters)])

    onnx_file = export_onnx(tta_model, tmp_path / "tta.onnx")
    info = read_onnx_metadata(onnx_file)
    assert info["tta"] is True
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    batch = np.stack([_as_documented(p, info["image_size"]) for p in posters])
    (from_file,) = session.run(None, {"images": batch})

    paths = {
        "serve": _served(tta_model, "torch", posters),
        "serve --runtime onnx": _served(tta_model, "onnx", posters),
        "the ONNX file": from_file,
    }
    for name, probs in paths.items():
        assert np.abs(probs - predicted).max() <= TOLERANCE, name

    # Without TTA the numbers really differ: the test would see a path that dropped it.
    plain = Predictor.from_file(tta_model, device="cpu", tta=False)
    without = np.stack([p.probabilities for p in plain.predict(posters)])
    assert np.abs(without - predicted).max() > 10 * TOLERANCE


def test_grad_cam_shows_the_pipelines_probability(tta_model: Path, posters: list[Path]) -> None:
    predictor = Predictor.from_file(tta_model, device="cpu")
    expected = predictor.predict(posters[:1])[0].probabilities
    shown = Explainer.from_file(tta_model).explain_all(posters[0])
    assert [e.label for e in shown] == predictor.label_names
    got = np.asarray([e.probability for e in shown])
    assert np.abs(got - expected).max() <= TOLERANCE


def test_the_tta_override_reaches_every_runtime(tta_model: Path, posters: list[Path]) -> None:
    torch_plain = Predictor.from_file(tta_model, device="cpu", tta=False)
    onnx_plain = Predictor.from_file(tta_model, device="cpu", tta=False, runtime="onnx")
    arrays = [torch_plain.pipeline.decode(p) for p in posters]
    assert not onnx_plain.tta
    np.testing.assert_allclose(
        onnx_plain.predict_arrays(arrays), torch_plain.predict_arrays(arrays), atol=TOLERANCE
    )
