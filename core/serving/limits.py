"""The server's limits and batching settings, with defaults per device chosen by benchmark."""

from __future__ import annotations

from dataclasses import dataclass, replace

ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/webp")
MB = 1024 * 1024


@dataclass(frozen=True)
class ServeOptions:
    """What one server accepts and how it batches. Every field has a safe default."""

    max_batch: int = 8  # images per model call
    max_wait_ms: float = 0.0  # how long the first image of a batch waits for company
    max_queue: int = 64  # images waiting for the model (decoded) before 503
    max_pending_decodes: int = 64  # requests waiting to be decoded before 503
    max_body_bytes: int = 10 * MB
    max_pixels: int = 40_000_000  # width x height, checked from the header before decoding
    max_batch_images: int = 32  # images in one /v1/predict/batch request
    timeout_s: float = 30.0  # a request's deadline, from arrival to its result (504)
    body_timeout_s: float = 20.0  # a slow client must have sent its body by then (408)
    header_timeout_s: float = 10.0  # ... and its request's headers by then (else: closed)
    max_connections: int = 256  # connections held at once; more are closed on arrival
    decode_threads: int = 2
    token: str | None = None  # bearer token; None: no auth

    def validated(self) -> ServeOptions:
        from core.base.errors import UsageError

        checks = {  # option: (its value, whether it is usable, the values it takes)
            "--max-batch": (self.max_batch, self.max_batch >= 1, "at least 1"),
            "--max-wait-ms": (
                self.max_wait_ms,
                0 <= self.max_wait_ms <= 10_000,  # False for NaN too
                "a number of milliseconds from 0 to 10000",
            ),
            "--max-body-mb": (
                self.max_body_bytes / MB,
                self.max_body_bytes >= 1024,
                "at least 0.001",
            ),
            "max_queue": (self.max_queue, self.max_queue >= 1, "at least 1"),
            "timeout_s": (self.timeout_s, self.timeout_s > 0, "above 0"),
            "header_timeout_s": (self.header_timeout_s, self.header_timeout_s > 0, "above 0"),
            "max_connections": (self.max_connections, self.max_connections >= 1, "at least 1"),
        }
        bad = [
            f"{name} must be {wanted}, got {value}"
            for name, (value, ok, wanted) in checks.items()
            if not ok
        ]
        if bad:
            raise UsageError("; ".join(bad) + ".")
        return self


def default_options(device: str, **overrides: object) -> ServeOptions:
    """Batching defaults per device, then any overrides.

    CPU (measured with bench/bench_serve.py on 2 cores): a batch of 6-8 images costs the same
    per image as a batch of 1 (torch and ONNX Runtime alike), so waiting for company only adds
    latency. The CPU default therefore never waits (max_wait_ms=0): a batch is whatever queued
    up while the model was busy, up to 8. On CUDA, batching pays, so the first image waits up
    to 5 ms for up to 32 others (not measured here: no GPU).
    """
    base = ServeOptions(max_batch=32, max_wait_ms=5.0) if device == "cuda" else ServeOptions()
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **given).validated()
