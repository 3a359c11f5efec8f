"""Process-wide CPU settings: OpenMP's wait policy and how many torch threads each job uses.

Why: torch's OpenMP threads spin at every barrier while they wait for each other. When another
program holds one of the cores, the thread left without a core is what the others spin for,
and a 20 ms prediction becomes 1 to 3 s (see bench/bench_busy_cpu.py). A short spin before
sleeping bounds that wait; fewer threads than cores when others compete avoids it
altogether.

Call `configure_threading()` first thing in every entry point, before anything imports torch:
the OpenMP runtime reads its variables once, when torch loads it. This module imports nothing
heavy (torch is imported lazily by `use_torch_threads` only), so it is safe to call from any
`main()`, a server or a torchrun worker:

    from core.base.runtime import configure_threading
    configure_threading()
    import torch  # now or later
"""

from __future__ import annotations

import gc
import math
import os
import sys
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

# Each runtime reads only its own variables and ignores the others', so all are set:
# torch's Linux wheels load GNU libgomp (checked here: torch/lib/libgomp.so.1 in
# /proc/self/maps); macOS wheels LLVM libomp and Windows wheels Intel libiomp5md, which read
# KMP_BLOCKTIME (ms to spin before sleeping); conda builds may load either on Linux.
# OMP_WAIT_POLICY is the standard variable; every runtime honours it.
# A short spin, then sleep. GNU's default spins ~300,000 times at every barrier, which is
# what collapses when a peer thread has lost its core; fully passive (0) costs a quiet
# machine 30-45% (every barrier sleeps). 10,000 spins (tens of microseconds) measured within
# a few percent of the default when idle and as good as passive when busy (bench_busy_cpu).
SHORT_WAIT: dict[str, str] = {
    "GOMP_SPINCOUNT": "10000",  # GNU libgomp: spins before a waiting thread sleeps
    "KMP_BLOCKTIME": "0",  # Intel / LLVM: 0 ms of spinning before sleeping
}
# A user who set any of these chose a wait policy; adding ours would override theirs
# (GOMP_SPINCOUNT beats OMP_WAIT_POLICY=ACTIVE in libgomp, KMP_BLOCKTIME likewise in libomp).
WAIT_VARIABLES = ("OMP_WAIT_POLICY", *SHORT_WAIT, "KMP_LIBRARY")

_state_lock = threading.Lock()
_trainings = 0  # training runs in progress in this process
_torch_was_imported: bool | None = None  # at the first configure_threading() call


def configure_threading(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set a short OpenMP wait (spin briefly, then sleep) unless the user chose a wait
    policy; returns what it set.

    Must run before torch is imported to have any effect (the runtime reads the variables
    once, at load). Idempotent and cheap; safe to call from every entry point.
    """
    global _torch_was_imported
    env = os.environ if environ is None else environ
    if environ is None and _torch_was_imported is None:
        _torch_was_imported = "torch" in sys.modules
    if any(name in env for name in WAIT_VARIABLES):
        return {}
    for name, value in SHORT_WAIT.items():
        env[name] = value
    return dict(SHORT_WAIT)


def torch_imported_before_configure() -> bool | None:
    """Whether torch was already loaded when configure_threading() first ran (None: never ran)."""
    return _torch_was_imported


# --------------------------------------------------------------------------- thread counts
def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, e.g. under taskset or a container's
    cpuset), capped by the user's OMP_NUM_THREADS when set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on macOS / Windows
        cores = os.cpu_count() or 1
    user = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if user.isdigit() and int(user) > 0:
        cores = min(cores, int(user))
    return max(1, cores)


def competing_load() -> float:
    """How many cores other programs keep busy right now, roughly (0 when unknown).

    The 1-minute load average lags and still counts our own finished work, so on Linux it
    is capped by the instantaneous count of runnable tasks (less the caller itself). A
    competitor missed here costs little: the short wait already bounds the collapse.
    """
    try:
        average = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows has no load average
        return 0.0
    try:
        with open("/proc/loadavg", encoding="ascii") as handle:
            runnable = int(handle.read().split()[3].split("/")[0]) - 1
        average = min(average, float(runnable))
    except (OSError, ValueError, IndexError):
        pass
    return max(0.0, average)


def work_threads(reserve: int = 0) -> int:
    """Threads for a CPU job: the usable cores, less `reserve` (e.g. one for a UI), less the
    cores other programs are using. Never fewer than one."""
    busy = math.floor(competing_load() + 0.5)
    return max(1, usable_cores() - reserve - busy)


def training_threads(keep_ui_core: bool = True) -> int:
    """Threads for training: in the GUI one core stays free for the UI."""
    return work_threads(reserve=1 if keep_ui_core else 0)


def prediction_threads() -> int:
    """Threads for a prediction: one while this process trains (the two would fight over the
    same cores), otherwise what `work_threads` allows."""
    return 1 if training_in_progress() else work_threads()


def decode_threads() -> int:
    """Threads that decode images (Pillow releases the GIL): the cores a CPU job may use,
    plus two that wait on file reads; at most 16."""
    return min(16, work_threads() + 2)


@contextmanager
def training_running() -> Iterator[None]:
    """Mark a training run as in progress for the block (prediction then takes one thread)."""
    global _trainings
    with _state_lock:
        _trainings += 1
    try:
        yield
    finally:
        with _state_lock:
            _trainings -= 1


def training_in_progress() -> bool:
    return _trainings > 0


def use_torch_threads(count: int) -> None:
    """Give the calling thread `count` torch threads (OpenMP's count is per thread, so a
    worker thread can predict with fewer threads while another trains)."""
    import torch  # lazily: this module must stay importable before torch

    if torch.get_num_threads() != count:
        torch.set_num_threads(count)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Use `count` torch intra-op threads inside the block; restore the caller's setting after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# A full pass of the cyclic collector walks every tracked object, and a command that loads
# torch, timm and pandas holds over 400,000 long-lived ones: 0.1 s a pass, and the
# default thresholds ran 7 of them in a warm `train` (0.7 s of its 4 s of CPU). Young
# objects are still collected as usual (generations 0 and 1); a full pass waits for 1,000
# generation-1 passes instead of 10.
RARE_FULL_COLLECTION = 1_000


def collect_rarely() -> None:
    """Keep the collector's young generations as they are and make full passes rare: for
    one-shot commands (the CLI, a torchrun worker), called first thing in their `main()`."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, RARE_FULL_COLLECTION)
