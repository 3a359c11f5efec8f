"""core.base.runtime: the OpenMP wait policy is set before torch loads, in every entry point,
without overriding the user's own choice; thread budgets never drop below one; commands
make the collector's full passes rare."""

from __future__ import annotations

import gc
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.base import runtime
from core.base.runtime import RARE_FULL_COLLECTION

ROOT = Path(__file__).resolve().parents[2]

# The child records the wait variables at the moment anything first imports torch, through
# an import hook, so the proof does not rely on core.base.runtime's own bookkeeping.
CHILD = """
import json, os, sys
WATCH = {watch!r}
seen = {{}}

class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and not seen:
            seen.update({{k: os.environ.get(k) for k in WATCH}})
        return None

sys.meta_path.insert(0, Spy())
{entry}
from core.base.runtime import torch_imported_before_configure
report = {{"at_torch_import": seen, "torch_loaded": "torch" in sys.modules,
          "torch_before_configure": torch_imported_before_configure()}}
print("SPY " + json.dumps(report), file=sys.stderr)
"""

ENTRIES = {
    # `marquee cache info`: the installed command's path (the image cache imports torch)
    "gui.app.main": "from gui.app import main; main(['cache', 'info', '--json'])",
    # the frozen app's entry script, run as PyInstaller runs it
    "packaging/marquee_main.py": (
        "import runpy; sys.argv = ['marquee', 'cache', 'info', '--json']\n"
        "try:\n    runpy.run_path('packaging/marquee_main.py', run_name='__main__')\n"
        "except SystemExit:\n    pass"
    ),
    # core's own CLI, used without the GUI package
    "core.cli.main.main": "from core.cli.main import main; main(['cache', 'info', '--json'])",
}


def run_child(entry: str, **env_overrides: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in runtime.WAIT_VARIABLES}
    env.update(env_overrides, PYTHONPATH=str(ROOT))
    code = CHILD.format(watch=runtime.WAIT_VARIABLES, entry=entry)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("SPY "))
    return json.loads(line[4:])


@pytest.mark.parametrize("entry", list(ENTRIES))
def test_entry_point_sets_the_short_wait_before_torch_loads(entry: str) -> None:
    report = run_child(ENTRIES[entry])
    assert report["torch_loaded"], "the entry point should have loaded torch"
    assert report["torch_before_configure"] is False
    seen = report["at_torch_import"]
    for name, value in runtime.SHORT_WAIT.items():
        assert seen[name] == value, (name, seen)


def test_a_users_own_wait_policy_is_kept() -> None:
    report = run_child(ENTRIES["gui.app.main"], OMP_WAIT_POLICY="ACTIVE")
    seen = report["at_torch_import"]
    assert seen["OMP_WAIT_POLICY"] == "ACTIVE"
    # adding ours would override theirs (GOMP_SPINCOUNT / KMP_BLOCKTIME beat the policy)
    assert seen["GOMP_SPINCOUNT"] is None
    assert seen["KMP_BLOCKTIME"] is None


@pytest.mark.parametrize("name", runtime.WAIT_VARIABLES)
def test_configure_leaves_every_variable_alone_once_the_user_set_one(name: str) -> None:
    env = {name: "7"}
    assert runtime.configure_threading(env) == {}
    assert env == {name: "7"}


def test_configure_sets_all_runtimes_variables_and_is_idempotent() -> None:
    env: dict[str, str] = {"PATH": "/bin"}
    assert runtime.configure_threading(env) == runtime.SHORT_WAIT
    assert runtime.configure_threading(env) == {}  # now "set" (by us): left alone
    assert env == {"PATH": "/bin", **runtime.SHORT_WAIT}


def test_usable_cores_follow_affinity_and_the_users_omp_num_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    if hasattr(os, "sched_getaffinity"):
        assert runtime.usable_cores() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert runtime.usable_cores() == 1


def test_thread_budgets_shrink_with_competition_but_never_below_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "usable_cores", lambda: 4)
    monkeypatch.setattr(runtime, "competing_load", lambda: 0.2)
    assert runtime.work_threads() == 4
    assert runtime.training_threads(keep_ui_core=True) == 3
    monkeypatch.setattr(runtime, "competing_load", lambda: 1.6)
    assert runtime.work_threads() == 2
    monkeypatch.setattr(runtime, "competing_load", lambda: 9.0)
    assert runtime.work_threads() == 1
    assert runtime.training_threads() == 1


def test_prediction_takes_one_thread_while_this_process_trains(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "work_threads", lambda reserve=0: 4)
    assert runtime.prediction_threads() == 4
    with runtime.training_running():
        assert runtime.training_in_progress()
        assert runtime.prediction_threads() == 1
    assert not runtime.training_in_progress()


def _load(monkeypatch: pytest.MonkeyPatch, average: float, proc: str | None) -> float:
    """competing_load() with this 1-minute average and /proc/loadavg text (None: no file)."""

    def fake_open(*_args: object, **_kwargs: object) -> io.StringIO:
        if proc is None:
            raise FileNotFoundError("/proc/loadavg")
        return io.StringIO(proc)

    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (average, 0.0, 0.0))
    monkeypatch.setattr(runtime, "open", fake_open, raising=False)
    return runtime.competing_load()


def test_competing_load_caps_the_average_by_the_runnable_tasks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The lagging average counts our own finished work; runnable tasks (less us) cap it.
    assert _load(monkeypatch, 3.5, "3.50 2.00 1.00 3/812 4242\n") == 2.0
    assert _load(monkeypatch, 0.7, "0.70 2.00 1.00 5/812 4242\n") == 0.7
    assert _load(monkeypatch, 2.5, "2.50 2.00 1.00 1/812 4242\n") == 0.0  # only us
    assert _load(monkeypatch, 1.25, None) == 1.25  # no /proc: the average alone
    assert _load(monkeypatch, 1.25, "garbage") == 1.25


def test_competing_load_is_zero_where_there_is_no_load_average(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing() -> tuple[float, float, float]:
        raise OSError("no load average here")

    monkeypatch.setattr(runtime.os, "getloadavg", missing)
    assert runtime.competing_load() == 0.0


def test_commands_make_full_collections_rare_and_keep_young_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from core.cli.main import main

    before = gc.get_threshold()
    gc.set_threshold(500, 7, 10)  # as if fresh (earlier commands in this process changed it)
    try:
        assert main([]) == 0  # no command: the help, after the process-wide settings
        assert gc.get_threshold() == (500, 7, RARE_FULL_COLLECTION)
    finally:
        gc.set_threshold(*before)
    assert "usage" in capsys.readouterr().out
