"""The app's training worker exports the saved model's inference graph before it reports."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

from core.inference.onnx_cache import file_graph_key
from core.modelfile.checkpoint import read_meta


def test_a_saved_run_has_its_graph_cached(model_file, marquee_home, tmp_path, monkeypatch):
    from core.training import runs
    from gui import workers

    folder = tmp_path / "run"

    def save_run(_result):  # the run writer itself is tested elsewhere: a copy of a model
        folder.mkdir()
        shutil.copy(model_file, folder / "model.safetensors")
        return folder

    monkeypatch.setattr(runs, "save_run", save_run)
    outcome = workers._saved(SimpleNamespace())
    assert outcome.run_dir == folder and not outcome.save_error
    saved = folder / "model.safetensors"
    meta = read_meta(saved)
    key = file_graph_key(saved, meta, bool(meta.config.get("tta", False)))
    assert (Path(marquee_home) / "cache" / "onnx" / f"{key}.onnx").is_file()
