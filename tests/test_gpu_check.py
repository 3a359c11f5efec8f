"""tools/gpu_check.sh --dry-run: every phase that needs no GPU runs for real (a small CPU
model stands in), the CUDA phases are named as skipped, and the verdict line is printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_check_dry_run_passes(tmp_path: Path) -> None:
    from tests.core.conftest import make_dataset_dir

    data = make_dataset_dir(tmp_path / "data", n_train=16, n_val=8)
    env = {**os.environ, "MARQUEE_PYTHON": sys.executable, "MARQUEE_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [str(ROOT / "tools" / "gpu_check.sh"), "--dry-run", "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=280,
        env=env,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-2000:]
    assert out.strip().splitlines()[-1].startswith("VERDICT: PASS")
    for phase in ("environment", "sample data", "train freeze (cpu)", "parity cpu vs cpu"):
        assert f"[  ok] {phase}" in out
    for phase in ("predict --device cpu", "serve --device cpu"):
        assert f"[  ok] {phase}" in out
    skipped = [line for line in out.splitlines() if line.startswith("[skip]")]
    assert len(skipped) == 5  # three strategies on CUDA, the app's worker, torchrun
    assert "img/s" in out
