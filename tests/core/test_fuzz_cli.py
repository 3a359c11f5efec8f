"""Command-line arguments that cannot work: exit 2 and one line, before any work starts.

Numbers that are not finite or absurdly large (weight decay, seed, batch size), a job
folder that is a file, argparse's own errors (one line, not usage plus error), and a
Ctrl+C while the heavy modules load (exit 130, no traceback).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from core.cli.main import main
from tests.core.test_fuzz_inputs import assert_user_error, run_cli

HUGE = "100000000000000000000"

TRAIN_ARGS: dict[str, tuple[list[str], str]] = {
    "weight-decay-nan": (["--weight-decay", "nan"], "weight decay"),
    "weight-decay-inf": (["--weight-decay", "inf"], "weight decay"),
    "weight-decay-minus-one": (["--weight-decay", "-1"], "weight decay"),
    "weight-decay-1e308": (["--weight-decay", "1e308"], "weight decay"),
    "lr-nan": (["--lr", "nan"], "learning rate"),
    "seed-huge": (["--seed", "99999999999999999999999"], "seed"),
    "batch-size-huge": (["--batch-size", HUGE], "batch size"),
}


@pytest.mark.parametrize("case", list(TRAIN_ARGS))
def test_train_refuses_numbers_that_cannot_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make_data_dir, case: str
) -> None:
    # --export-job: without the fix the run would succeed quickly, writing a job.
    data = make_data_dir(tmp_path / "data", 4, 4)
    extra, what = TRAIN_ARGS[case]
    job = tmp_path / "job"
    code, _, err = run_cli(capsys, "train", "--data", data, "--export-job", job, *extra)
    line = assert_user_error(code, err)
    assert what in line.replace("-", " ")
    assert not job.exists()


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_prediction_batch_sizes_are_capped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_path: Path, command: str
) -> None:
    target = ["--data", tmp_path] if command == "evaluate" else [tmp_path]
    code, _, err = run_cli(capsys, command, model_path, *target, "--batch-size", HUGE)
    assert "--batch-size" in assert_user_error(code, err)


def test_export_job_onto_an_existing_file_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make_data_dir
) -> None:
    data = make_data_dir(tmp_path / "data", 4, 4)
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    code, _, err = run_cli(capsys, "train", "--data", data, "--export-job", existing)
    assert "is a file" in assert_user_error(code, err)
    assert existing.read_text() == "keep me"


ARGPARSE: dict[str, list[str]] = {
    "unknown-command": ["bogus"],
    "not-a-number": ["train", "--epochs", "many"],
    "unknown-option": ["info", "m.safetensors", "--colour"],
    "missing-argument": ["predict"],
    "bad-choice": ["train", "--device", "abacus"],
}


@pytest.mark.parametrize("case", list(ARGPARSE))
def test_argparse_errors_are_one_line(capsys: pytest.CaptureFixture[str], case: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main(ARGPARSE[case])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert_user_error(2, err)
    assert "--help" in err


def _interrupting_module() -> types.ModuleType:
    """A stand-in for core.cli.dispatch whose import is cut short by Ctrl+C."""

    class Interrupted(types.ModuleType):
        def __getattr__(self, name: str) -> object:
            raise KeyboardInterrupt

    return Interrupted("core.cli.dispatch")


def test_ctrl_c_while_the_heavy_modules_load_is_exit_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "core.cli.dispatch", _interrupting_module())
    code, out, err = run_cli(capsys, "info", tmp_path / "m.safetensors")
    assert (code, out, err) == (130, "", "marquee: cancelled\n")
