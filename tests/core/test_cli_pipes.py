"""`marquee ... | head -1`: when the reader of stdout goes, the command stops quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHATTY = """
import sys
from core.cli import dispatch, main as cli
def chatty(args):
    for i in range(200_000):
        print(f"poster-{i}.jpg  Action 0.91  Drama 0.12")
    return 0
dispatch.HANDLERS["backbones"] = chatty
sys.exit(cli.main(["backbones"]))
"""


def test_a_closed_pipe_stops_the_command_without_a_word(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MARQUEE_HOME": str(tmp_path)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHATTY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.readline().startswith(b"poster-0.jpg")  # `head -1`
    child.stdout.close()
    errors = child.stderr.read().decode()
    assert child.wait(timeout=60) == 141  # 128 + SIGPIPE, as a Unix tool's
    assert errors == ""
