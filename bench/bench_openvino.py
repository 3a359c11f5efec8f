"""ONNX Runtime vs OpenVINO on one exported Marquee graph: is OpenVINO faster on this CPU?

    marquee export model.safetensors graph.onnx        # the inference graph, as predict runs it
    python -m venv /tmp/ov && /tmp/ov/bin/pip install openvino onnxruntime numpy
    /tmp/ov/bin/python bench/bench_openvino.py graph.onnx [--threads 2] [--rounds 5]

OpenVINO is not one of Marquee's dependencies, hence the separate environment. Both
runtimes get the same uint8 batches and thread count; rounds alternate between them and
the best round of each counts, so a busy machine's swings cancel. Prints img/s and how
far the outputs are apart; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

BATCH, CALLS = 32, 5


def ort_runner(path: str, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as Marquee
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch})[0]


def openvino_runner(path: str, threads: int):
    import openvino as ov

    compiled = ov.Core().compile_model(path, "CPU", {"INFERENCE_NUM_THREADS": threads})
    request, output = compiled.create_infer_request(), compiled.output(0)
    name = compiled.input(0).get_any_name()
    return lambda batch: request.infer({name: batch})[output]


def best_rate(run, batch: np.ndarray, rounds: list[float]) -> None:
    started = time.perf_counter()
    for _ in range(CALLS):
        run(batch)
    rounds.append(CALLS * len(batch) / (time.perf_counter() - started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("graph", help="an ONNX file written by `marquee export`")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runners = {"onnxruntime": ort_runner, "openvino": openvino_runner}
    runs = {name: make(args.graph, args.threads) for name, make in runners.items()}
    size = _input_size(args.graph)
    batch = np.random.default_rng(0).integers(0, 256, (BATCH, size, size, 3), dtype=np.uint8)
    outputs = {name: run(batch) for name, run in runs.items()}  # also warms both up
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            best_rate(run, batch, rates[name])
    apart = float(np.abs(outputs["onnxruntime"] - outputs["openvino"]).max())
    print(f"batch {BATCH}, {args.threads} threads, load {os.getloadavg()[0]:.1f}")
    for name, values in rates.items():
        print(f"  {name:<12} {max(values):6.1f} img/s")
    print(f"  outputs differ by up to {apart:.4f}")


def _input_size(path: str) -> int:
    import onnxruntime as ort

    shape = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).get_inputs()[0].shape
    return int(shape[1])  # N x S x S x 3


if __name__ == "__main__":
    main()
