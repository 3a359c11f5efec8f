"""Where results are written: leftovers of killed writes, devices and FIFOs as targets.

A save killed half-way leaves a hidden temporary file; the next save beside it removes
it (once it is old enough not to belong to a live writer). `--csv /dev/stdout` or a
named pipe is written into, never replaced by a regular file.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from core.base.errors import OutputError
from core.base.files import is_stream, remove_stale_temps, write_text
from tests.core.test_fuzz_inputs import run_cli, tiny_image

HOUR = 3600


def _leftover(path: Path, age: float = 2 * HOUR) -> Path:
    """A file that a write killed `age` seconds ago left behind."""
    path.write_text("half written")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_the_next_save_removes_what_a_killed_save_left(trained, tmp_path: Path) -> None:
    from core.modelfile.checkpoint import save_model

    target = tmp_path / "m.safetensors"
    _leftover(tmp_path / ".m.safetensors.k1ll3d.tmp")
    live = _leftover(tmp_path / ".m.safetensors.wr1t1ng.tmp", age=0)  # a live writer's
    unrelated = _leftover(tmp_path / ".other.safetensors.x.tmp")
    save_model(target, trained.result.model, trained.result.meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [target.name, live.name, unrelated.name]
    )


def test_stale_temps_are_matched_literally(tmp_path: Path) -> None:
    odd = tmp_path / "[a]*.csv"
    _leftover(tmp_path / ".[a]*.csv.x.tmp")
    lookalike = _leftover(tmp_path / ".a-.csv.x.tmp")  # an unescaped glob would match it
    write_text(odd, "new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([odd.name, lookalike.name])


def test_remove_stale_temps_takes_folders_and_keeps_young_ones(tmp_path: Path) -> None:
    old_dir = tmp_path / ".data.tmp-1-ab"
    (old_dir / "train").mkdir(parents=True)
    then = time.time() - 2 * HOUR
    os.utime(old_dir, (then, then))
    young = tmp_path / ".data.tmp-2-cd"
    young.mkdir()
    assert remove_stale_temps(tmp_path, ".data.tmp-*") == [old_dir]
    assert [p.name for p in tmp_path.iterdir()] == [young.name]


def test_csv_into_a_fifo_is_written_into_not_replaced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_path: Path
) -> None:
    fifo = tmp_path / "results.csv"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so the writer does not block
    try:
        image = tiny_image(tmp_path / "a.png")
        code, _, err = run_cli(capsys, "predict", model_path, image, "--csv", fifo)
        data = os.read(reader, 1 << 16).decode()
    finally:
        os.close(reader)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert data.startswith("file,Action,Romance,Crime")
    written = sorted(p.name for p in tmp_path.iterdir() if p.name != "marquee-home")
    assert written == ["a.png", "results.csv"]  # (marquee-home: the app's own cache folder)


def test_a_device_is_a_stream_and_a_full_one_is_one_output_error() -> None:
    assert is_stream(Path("/dev/null")) and not is_stream(Path("/etc/hostname"))
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full here")
    with pytest.raises(OutputError, match="No space left"):
        write_text(full, "x" * 10_000, "the CSV")
    assert stat.S_ISCHR(full.stat().st_mode)
