"""Serving throughput and latency on loopback: dynamic batching vs batch 1 vs in-process.

One run, the same poster JPEGs for everything, an open-loop httpx asyncio load generator:
  (a) `marquee serve` with dynamic batching, (b) the same with --max-batch 1,
  (c) the in-process Predictor (decode + model) at its best batch size: the ceiling.
For each server: saturation throughput (closed loop, many clients), a lone request's
latency, and p50/p99 at 50% and 90% of saturation (open loop, fixed request rate). Then a
fuzz run of malformed requests against (a): counts by status and the server's RSS.

    python bench/bench_serve.py [--runtime torch|onnx|both] [--seconds 8] [--model M]

The model is EfficientNet-Lite0 at 224 px, trained briefly on the sample posters the first
time (cached in the Marquee cache folder). Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
JPEG = {"Content-Type": "image/jpeg"}
CLIENTS = 16  # closed-loop clients when finding the saturation throughput (same for all)


# ------------------------------------------------------------------ model and images
def bench_model() -> Path:
    from core.base.paths import cache_dir

    path = cache_dir() / "bench-serve-lite0-224.safetensors"
    if path.is_file():
        return path
    import dataclasses

    import numpy as np

    from core.base.config import TrainConfig
    from core.data.datasets import load_dataset
    from core.data.samples import ensure_sample_data
    from core.modelfile.checkpoint import save_model
    from core.training.loop import fit

    data = load_dataset(ensure_sample_data())
    data = dataclasses.replace(
        data, train=data.train.subset(np.arange(48)), val=data.val.subset(np.arange(16))
    )
    config = TrainConfig(epochs=1, image_size=224, batch_size=16, strategy="freeze")
    print("training the benchmark model once (Lite0, 224 px, 48 posters)...", flush=True)
    result = fit(config, data)
    return save_model(path, result.model, result.meta)


def poster_paths(n: int) -> list[Path]:
    from core.data.datasets import load_dataset
    from core.data.samples import ensure_sample_data

    return list(load_dataset(ensure_sample_data()).val.paths[:n])


# ------------------------------------------------------------------ the server process
class ServerProcess:
    def __init__(self, model: Path, *extra: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "gui", "serve", str(model), "--port", "0", *extra]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the server did not start: {' '.join(cmd)}")
        self.ready = json.loads(line)
        self.url = self.ready["url"]

    def rss_mb(self) -> float:
        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(60)


# ------------------------------------------------------------------ load generators
async def closed_loop(url: str, images: list[bytes], clients: int, seconds: float) -> float:
    """Saturation throughput: `clients` send back to back for `seconds`; answers per second."""
    done = 0
    end = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as c:
        await c.post("/v1/predict", content=images[0], headers=JPEG)  # warm the connection

        async def client(k: int) -> None:
            nonlocal done
            i = k
            while time.perf_counter() < end:
                r = await c.post("/v1/predict", content=images[i % len(images)], headers=JPEG)
                r.raise_for_status()
                done += 1
                i += clients

        start = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        return done / (time.perf_counter() - start)


async def open_loop(url: str, images: list[bytes], rate: float, seconds: float) -> dict:
    """Requests at a fixed rate, whether or not earlier ones finished; latency percentiles."""
    latencies: list[float] = []
    statuses: Counter = Counter()
    n = max(10, int(rate * seconds))
    limits = httpx.Limits(max_connections=512)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as c:

        async def one(i: int) -> None:
            t0 = time.perf_counter()
            r = await c.post("/v1/predict", content=images[i % len(images)], headers=JPEG)
            statuses[r.status_code] += 1
            if r.status_code == 200:
                latencies.append((time.perf_counter() - t0) * 1000)

        start = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(i)))
        await asyncio.gather(*tasks)
    latencies.sort()
    return {
        "rate": round(rate, 1),
        "n": n,
        "p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1)
        if latencies
        else None,
        "statuses": dict(statuses),
    }


async def lone_latency(url: str, images: list[bytes], n: int = 10) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=120) as c:
        times = []
        for i in range(n + 1):
            t0 = time.perf_counter()
            (
                await c.post("/v1/predict", content=images[i % len(images)], headers=JPEG)
            ).raise_for_status()
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times[1:])


def measure_server(model: Path, images: list[bytes], seconds: float, *extra: str) -> dict:
    server = ServerProcess(model, *extra)
    try:
        lone = asyncio.run(lone_latency(server.url, images))
        saturation = asyncio.run(closed_loop(server.url, images, CLIENTS, seconds))
        loads = {
            f"{int(share * 100)}%": asyncio.run(
                open_loop(server.url, images, share * saturation, seconds)
            )
            for share in (0.5, 0.9)
        }
        return {
            "server": server.ready,
            "lone_ms": round(lone, 1),
            "saturation_rps": round(saturation, 1),
            **loads,
        }
    finally:
        server.stop()


# ------------------------------------------------------------------ (c) the ceiling
def in_process_ceiling(model: Path, paths: list[Path], runtime: str, seconds: float) -> dict:
    """Decode + model in one worker thread, like the server's inference thread (torch's
    OpenMP threads behave very differently in the main thread of a busy machine)."""
    import threading

    result: dict = {}
    worker = threading.Thread(
        target=lambda: result.update(_ceiling(model, paths, runtime, seconds)), daemon=True
    )
    worker.start()
    worker.join()
    return result


def _ceiling(model: Path, paths: list[Path], runtime: str, seconds: float) -> dict:
    from core.serving.images import decode_upload
    from core.serving.runtime import load_runtime

    loaded = load_runtime(model, "cpu", runtime)
    blobs = [p.read_bytes() for p in paths]
    size = loaded.meta.image_size
    best = {}
    for batch_size in (1, 4, 8, 16, 32):
        loaded.run([decode_upload(blobs[0], size, 10**8)] * batch_size)  # warm
        done, start, i = 0, time.perf_counter(), 0
        while time.perf_counter() - start < seconds / 2:
            chunk = [blobs[(i + k) % len(blobs)] for k in range(batch_size)]
            loaded.run([decode_upload(b, size, 10**8) for b in chunk])  # decode + model
            done, i = done + batch_size, i + batch_size
        best[batch_size] = round(done / (time.perf_counter() - start), 1)
    top = max(best, key=best.get)
    return {"images_per_s_by_batch": best, "best_batch": top, "ceiling_ips": best[top]}


# ------------------------------------------------------------------ fuzz
def fuzz(model: Path, n: int) -> dict:
    from tests.core.test_serving_fuzz import _send_all, malformed_requests

    server = ServerProcess(model, "--max-body-mb", "1")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            c.get("/healthz")
        before = server.rss_mb()
        statuses = asyncio.run(_send_all(server.url, malformed_requests(n)))
        after = server.rss_mb()
        with httpx.Client(base_url=server.url, timeout=60) as c:
            healthy = c.get("/readyz").status_code == 200
    finally:
        code = server.stop()
    counts = {str(k): v for k, v in statuses.items()}
    return {
        "requests": n,
        "4xx": sum(v for k, v in statuses.items() if isinstance(k, int) and 400 <= k < 500),
        "5xx": sum(v for k, v in statuses.items() if isinstance(k, int) and k >= 500),
        "by_status": counts,
        "rss_mb_before": round(before, 1),
        "rss_mb_after": round(after, 1),
        "healthy_after": healthy,
        "exit_code": code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", default="both", choices=("torch", "onnx", "both"))
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--fuzz", type=int, default=230)
    args = parser.parse_args()
    model = args.model or bench_model()
    paths = poster_paths(32)
    images = [p.read_bytes() for p in paths]
    print(f"model {model.name}; {len(images)} posters, {os.cpu_count()} CPUs", flush=True)
    report: dict = {}
    runtimes = ("torch", "onnx") if args.runtime == "both" else (args.runtime,)
    for runtime in runtimes:
        rt = ["--runtime", runtime, "--device", "cpu"]
        part = {
            "a_batched": measure_server(model, images, args.seconds, *rt),
            "b_batch1": measure_server(model, images, args.seconds, *rt, "--max-batch", "1"),
            "c_in_process": in_process_ceiling(model, paths, runtime, args.seconds),
        }
        a, b, c = (part[k] for k in ("a_batched", "b_batch1", "c_in_process"))
        part["a_over_b"] = round(a["saturation_rps"] / b["saturation_rps"], 2)
        part["a_over_c"] = round(a["saturation_rps"] / c["ceiling_ips"], 2)
        part["p99_at_50pct_over_lone"] = round(a["50%"]["p99_ms"] / a["lone_ms"], 2)
        report[runtime] = part
        print(json.dumps({runtime: part}, indent=1), flush=True)
    report["fuzz"] = fuzz(model, args.fuzz)
    print(json.dumps({"fuzz": report["fuzz"]}, indent=1), flush=True)
    summary = {
        rt: {
            "a_rps": report[rt]["a_batched"]["saturation_rps"],
            "b_rps": report[rt]["b_batch1"]["saturation_rps"],
            "c_ips": report[rt]["c_in_process"]["ceiling_ips"],
            "a/b": report[rt]["a_over_b"],
            "a/c": report[rt]["a_over_c"],
            "lone_ms": report[rt]["a_batched"]["lone_ms"],
            "p50/p99@50%": (
                report[rt]["a_batched"]["50%"]["p50_ms"],
                report[rt]["a_batched"]["50%"]["p99_ms"],
            ),
            "p50/p99@90%": (
                report[rt]["a_batched"]["90%"]["p50_ms"],
                report[rt]["a_batched"]["90%"]["p99_ms"],
            ),
        }
        for rt in runtimes
    }
    print("SUMMARY " + json.dumps(summary))


if __name__ == "__main__":
    main()
