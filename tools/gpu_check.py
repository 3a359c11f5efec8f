"""One NVIDIA GPU, no network, a few minutes: does Marquee really work on CUDA?

Phases (each timed, images/s printed): the environment; the sample data; training with
each strategy on CUDA with mixed precision; CUDA probabilities against the CPU pipeline
(max |difference| <= PARITY_TOLERANCE); `marquee predict` and `marquee serve` on CUDA; the
app's training worker (offscreen Qt) on CUDA; a 2-process torchrun job when two GPUs exist.
The last line is the verdict. `--dry-run` runs every phase that needs no GPU for real
(on the CPU, with a small model: the comparison, predict and serve code paths) and names
the CUDA ones it skips, so the tests keep this script working. Run it through
tools/gpu_check.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# CUDA runs fp32 inference with TF32 convolutions/matmuls allowed: probabilities agree with
# the CPU to about 1e-3; more than this is a real difference.
PARITY_TOLERANCE = 2e-3
STRATEGIES = ("freeze", "freeze_unfreeze", "no_freeze")


@dataclass
class Check:
    dry_run: bool
    work: Path
    data: Path | None = None
    device: str = "cuda"
    models: dict[str, Path] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def phase(self, name: str, run: Callable[[], str], needs_cuda: bool = False) -> None:
        """Run one phase and print its line: name, seconds, what it measured."""
        if needs_cuda and self.dry_run:
            print(f"[skip] {name:<28} needs CUDA (dry run)", flush=True)
            return
        started = time.perf_counter()
        try:
            detail = run()
            mark = "ok"
        except Exception as exc:  # a phase's failure is reported; the others still run
            detail, mark = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}", "FAIL"
            self.failures.append(name)
        seconds = time.perf_counter() - started
        print(f"[{mark:>4}] {name:<28} {seconds:6.1f} s  {detail}", flush=True)


def marquee(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "gui", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"marquee {args[0]} exited {done.returncode}: {done.stderr[-300:]}")
    return done


def environment(check: Check) -> str:
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(gpus)) or "none"
    if gpus == 0 and not check.dry_run:
        raise RuntimeError("torch sees no CUDA GPU (driver, or a CPU-only torch build?)")
    return f"python {sys.version.split()[0]}, torch {torch.__version__}, GPUs: {names}"


def sample_data(check: Check) -> str:
    from core.data.datasets import load_dataset
    from core.data.samples import ensure_sample_data

    check.data = check.data or ensure_sample_data()
    data = load_dataset(check.data)
    return f"{check.data}: {len(data.train)} train / {len(data.val)} val images"


def train(check: Check, strategy: str, epochs: int, size: int) -> str:
    from core.base.config import TrainConfig
    from core.data.datasets import load_dataset
    from core.modelfile.checkpoint import save_model
    from core.training.events import StepEnded
    from core.training.loop import fit

    rates: list[float] = []

    def on_event(event: object) -> None:
        if isinstance(event, StepEnded):
            rates.append(event.images_per_s)

    epochs = max(epochs, 2) if strategy == "freeze_unfreeze" else epochs  # both halves
    config = TrainConfig(
        strategy=strategy, epochs=epochs, image_size=size, device=check.device, batch_size=32
    )
    started = time.perf_counter()
    result = fit(config, load_dataset(check.data), on_event)
    seconds = time.perf_counter() - started
    path = save_model(check.work / f"{strategy}.safetensors", result.model, result.meta)
    check.models[strategy] = path
    rate = f"{rates[-1]:.0f} img/s (last step)" if rates else "no steps"
    return f"mAP {result.meta.metrics.get('map', 0):.3f}, {rate}, {seconds:.1f} s in all"


def val_images(check: Check) -> list[Path]:
    from core.data.datasets import load_dataset

    return [Path(p) for p in load_dataset(check.data).val.paths]


def parity(check: Check) -> str:
    """The same model file through the CPU pipeline and the check's device."""
    import numpy as np

    from core.inference.predictor import Predictor

    model, images = check.models["freeze"], val_images(check)
    started = time.perf_counter()
    here = Predictor.from_file(model, device=check.device, runtime="torch").predict(images)
    rate = len(images) / (time.perf_counter() - started)
    cpu = Predictor.from_file(model, device="cpu").predict(images)
    a = np.stack([p.probabilities for p in here])
    b = np.stack([p.probabilities for p in cpu])
    diff = float(np.abs(a - b).max())
    if diff > PARITY_TOLERANCE:
        raise RuntimeError(f"max |p_{check.device} - p_cpu| = {diff:.2e} > {PARITY_TOLERANCE}")
    return f"max |diff| {diff:.1e} <= {PARITY_TOLERANCE} on {len(images)} images; {rate:.0f} img/s"


def predict_cli(check: Check) -> str:
    folder = str(val_images(check)[0].parent)
    started = time.perf_counter()
    done = marquee(
        "predict", str(check.models["freeze"]), folder, "--device", check.device, "--json"
    )
    count = len(json.loads(done.stdout)["predictions"])
    return f"{count} images, {count / (time.perf_counter() - started):.0f} img/s with start-up"


def serve(check: Check, requests: int = 40) -> str:
    command = [sys.executable, "-m", "gui", "serve", str(check.models["freeze"]), "--port", "0"]
    server = subprocess.Popen(
        [*command, "--device", check.device],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # uvicorn's log lines; the ready line is on stdout
        text=True,
        cwd=ROOT,
    )
    try:
        line = server.stdout.readline() if server.stdout else ""  # the one JSON ready line
        ready = json.loads(line)
        body = val_images(check)[0].read_bytes()
        started = time.perf_counter()
        for _ in range(requests):
            call = urllib.request.Request(
                f"{ready['url']}/v1/predict",
                data=body,
                method="POST",
                headers={"Content-Type": "image/jpeg"},
            )
            with urllib.request.urlopen(call, timeout=30) as answer:
                labels = json.loads(answer.read())
        rate = requests / (time.perf_counter() - started)
        return f"{ready.get('device')}, {rate:.0f} requests/s one at a time; {sorted(labels)[:3]}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def gui_worker(check: Check) -> str:
    """The Train page's worker (gui.workers.training_task) in an offscreen QApplication."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from core.base.config import TrainConfig
    from core.data.datasets import load_dataset
    from gui.workers import FunctionWorker, training_task

    app = QApplication.instance() or QApplication([])
    config = TrainConfig(strategy="no_freeze", epochs=1, image_size=224, device=check.device)
    worker = FunctionWorker(training_task(config, load_dataset(check.data), save_run=False))
    outcome: dict[str, object] = {}
    worker.succeeded.connect(lambda result: outcome.update(result=result))
    worker.failed.connect(lambda message, _details: outcome.update(error=message))
    loop = QEventLoop()
    worker.finished.connect(loop.quit)
    QTimer.singleShot(240_000, loop.quit)  # bounded: a hung worker fails the phase
    worker.start()
    loop.exec()
    worker.wait(5000)
    del app
    if "result" not in outcome:
        raise RuntimeError(str(outcome.get("error", "the worker did not finish in 240 s")))
    metrics = outcome["result"].result.meta.metrics
    return f"the app's worker trained on {check.device}: mAP {metrics.get('map', 0):.3f}"


def torchrun_job(check: Check) -> str:
    import torch

    if torch.cuda.device_count() < 2:
        return "one GPU: skipped (needs two)"
    job = check.work / "job"
    marquee("train", "--data", str(check.data), "--epochs", "1", "--export-job", str(job))
    torchrun = [sys.executable, "-m", "torch.distributed.run"]  # `torchrun`, from this venv
    command = [*torchrun, "--standalone", "--nnodes", "1", "--nproc-per-node", "2"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "-m", "core.distributed", str(job)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"torchrun exited {done.returncode}: {done.stderr[-300:]}")
    return f"2 processes, nccl: {time.perf_counter() - started:.1f} s with start-up"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="no GPU: CPU phases only")
    parser.add_argument("--data", type=Path, help="a data set instead of the sample posters")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="marquee-gpu-check-") as work:
        check = Check(args.dry_run, Path(work), args.data, "cpu" if args.dry_run else "cuda")
        run_phases(check, args.epochs, args.image_size)
    if check.failures:
        print(f"VERDICT: FAIL ({', '.join(check.failures)})")
        return 1
    what = "dry run passed (no CUDA phase ran)" if args.dry_run else "CUDA works end to end"
    print(f"VERDICT: PASS: {what}")
    return 0


def run_phases(check: Check, epochs: int, size: int) -> None:
    check.phase("environment", lambda: environment(check))
    check.phase("sample data", lambda: sample_data(check))
    if check.dry_run:  # a small CPU model stands in, so the later phases' code runs
        check.phase("train freeze (cpu)", lambda: train(check, "freeze", 1, 64))
    for strategy in STRATEGIES:
        check.phase(
            f"train {strategy} (amp)", lambda s=strategy: train(check, s, epochs, size), True
        )
    check.phase(f"parity {check.device} vs cpu", lambda: parity(check))
    check.phase(f"predict --device {check.device}", lambda: predict_cli(check))
    check.phase(f"serve --device {check.device}", lambda: serve(check))
    check.phase("app training worker", lambda: gui_worker(check), True)
    check.phase("torchrun 2 processes", lambda: torchrun_job(check), True)


if __name__ == "__main__":
    raise SystemExit(main())
