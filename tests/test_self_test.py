"""`marquee --self-test`: the smoke test that the packaged build runs (here from source)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.data.samples import GENRES
from gui import self_test

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--image-size", "64", "--epochs", "1", "--train-limit", "48", "--val-limit", "24"]


@pytest.mark.slow
def test_self_test_trains_and_predicts(tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "result.json"
    env = {**os.environ, "MARQUEE_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-m", "gui", "--self-test", *SMALL, "--json-out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [line] = proc.stdout.splitlines()  # exactly one line of output
    result = json.loads(line)
    assert json.loads(out.read_text()) == result
    assert result["ok"] is True and result["frozen"] is False
    assert result["labels"] == list(GENRES)
    assert list(result["prediction"]) == list(GENRES)
    assert all(0.0 <= p <= 1.0 for p in result["prediction"].values())
    assert set(result["true_labels"]) <= set(GENRES) and result["true_labels"]
    assert result["torchvision_ops"] == [0, 2]
    assert 0.0 <= result["val_map"] <= 1.0
    assert set(result["timings"]) >= {
        "import_s",
        "window_s",
        "data_s",
        "train_s",
        "predict_s",
        "total_s",
    }
    assert (home / "cache" / "sample-posters-v1" / ".complete").is_file()  # used MARQUEE_HOME


def test_self_test_reports_failure_as_json(monkeypatch, tmp_path: Path, capsys) -> None:
    def broken(*_args):
        raise RuntimeError("no display for you")

    monkeypatch.setattr(self_test, "_open_window", broken)
    out = tmp_path / "result.json"
    code = self_test.main(["--self-test", "--json-out", str(out)])
    result = json.loads(capsys.readouterr().out)
    assert code == 1
    assert result["ok"] is False
    assert result["error"] == "RuntimeError: no display for you"
    assert json.loads(out.read_text()) == result


def test_self_test_uses_a_temporary_home_when_none_is_set(monkeypatch) -> None:
    monkeypatch.delenv("MARQUEE_HOME", raising=False)
    with self_test._isolated_home() as home:
        assert os.environ["MARQUEE_HOME"] == str(home) and home.is_dir()
    assert "MARQUEE_HOME" not in os.environ
    assert not home.exists()


def test_self_test_options_leave_qt_arguments_alone() -> None:
    options = self_test.parse_args(["--self-test", "-platform", "xcb", "--epochs", "3"])
    assert options.epochs == 3 and options.image_size == self_test.Options.image_size
    assert options.qt_args == ("-platform", "xcb")
