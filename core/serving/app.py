"""The FastAPI application: `create_app(runtime, options)`.

Requests are decoded and validated in a thread pool, then queued for the one inference
thread (`Batcher`). Thresholds and predicted labels come from `PredictionSet`, as in the
CLI and the desktop app. Every error is `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import AsyncIterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from core import __version__
from core.inference.predictions import (
    NOT_A_NUMBER,
    Prediction,
    PredictionSet,
    parse_label_thresholds,
)
from core.serving.batcher import Batcher, BatcherStopped, BatchResult, DeadlineExceeded, QueueFull
from core.serving.errors import ApiError, error_response, install_error_handlers
from core.serving.images import decode_upload
from core.serving.inputs import Upload, flash_image, many_images, read_json, single_image
from core.serving.limits import ServeOptions
from core.serving.metrics import CONTENT_TYPE, ServerMetrics
from core.serving.openapi import BATCH_BODY, ERRORS, FLASH_BODY, PREDICT_BODY
from core.serving.runtime import ModelRuntime

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
ENDPOINTS = frozenset({"/v1/predict", "/v1/predict/batch", "/predict", "/v1/model", "/metrics"})
ARRIVED = "marquee.arrived"
_RETRY = {"Retry-After": "1"}


class ServingState:
    """Everything a request needs: the model, the batcher, the decode pool and the metrics."""

    def __init__(self, runtime: ModelRuntime, options: ServeOptions) -> None:
        self.runtime, self.options = runtime, options
        self.metrics = ServerMetrics(lambda: self.batcher.depth)
        self.batcher = Batcher(
            runtime.run,
            options.max_batch,
            options.max_wait_ms / 1000,
            options.max_queue,
            on_batch=self.metrics.observe_batch,
        )
        self.pool = ThreadPoolExecutor(options.decode_threads, thread_name_prefix="marquee-decode")
        self.pending_decodes = 0
        self.ready = False

    async def start(self) -> None:
        await asyncio.to_thread(self.runtime.warm_up, self.options.max_batch)
        self.batcher.start()
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        await asyncio.to_thread(self.batcher.stop)
        self.pool.shutdown(wait=True, cancel_futures=True)

    async def decode(self, data: bytes) -> np.ndarray:
        if self.pending_decodes >= self.options.max_pending_decodes:
            raise ApiError(503, "overloaded", "Too many images waiting to be decoded.", _RETRY)
        self.pending_decodes += 1
        try:
            loop = asyncio.get_running_loop()
            size, limit = self.runtime.meta.image_size, self.options.max_pixels
            return await loop.run_in_executor(self.pool, decode_upload, data, size, limit)
        finally:
            self.pending_decodes -= 1

    async def infer(self, array: np.ndarray, deadline: float) -> BatchResult:
        try:
            future = self.batcher.submit(array, deadline)
        except QueueFull:
            raise ApiError(
                503, "overloaded", "The server is busy; retry shortly.", _RETRY
            ) from None
        except BatcherStopped:
            raise ApiError(503, "shutting_down", "The server is shutting down.", _RETRY) from None
        try:
            remaining = max(0.0, deadline - time.monotonic())
            return await asyncio.wait_for(asyncio.wrap_future(future), remaining)
        except (TimeoutError, DeadlineExceeded):
            raise ApiError(504, "timeout", "The prediction did not finish in time.") from None

    async def predict(self, upload: Upload, deadline: float) -> tuple[BatchResult, float]:
        """Decode then infer one upload; returns the result and the decode time in ms."""
        if upload.error is not None:
            raise upload.error
        started = time.perf_counter()
        array = await self.decode(upload.data or b"")
        decode_ms = (time.perf_counter() - started) * 1000
        return await self.infer(array, deadline), decode_ms

    def new_set(self, threshold: float | None, thresholds: str | None) -> PredictionSet:
        """A prediction set with the request's thresholds (tuned unless overridden)."""
        predictions = self.runtime.predictor.new_set()
        if threshold is not None and thresholds:
            raise ApiError(400, "bad_request", "Give threshold or thresholds, not both.")
        if threshold is not None:
            predictions.use_global(threshold, "threshold")
        else:
            predictions.use_tuned()
            if thresholds:
                predictions.use_custom(parse_label_thresholds(thresholds))
        return predictions


class GuardMiddleware:
    """Pure ASGI: auth, body size (declared and counted), slow-client timeout, metrics."""

    def __init__(self, app: Any, state: ServingState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]
        scope[ARRIVED] = time.monotonic()

        async def send_status(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await error_response(refusal)(scope, receive, send_status)
            else:
                await self.app(scope, self._limited(receive), send_status)
        finally:
            endpoint = scope["path"] if scope["path"] in ENDPOINTS | OPEN_PATHS else "other"
            self.state.metrics.observe_request(endpoint, status[0], started)

    def _refusal(self, scope: dict) -> ApiError | None:
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        token = self.state.options.token
        if token and scope["path"] not in OPEN_PATHS:
            given = headers.get("authorization", b"")
            if not hmac.compare_digest(given, f"Bearer {token}".encode()):
                return ApiError(
                    401,
                    "unauthorized",
                    "Missing or wrong token: send 'Authorization: Bearer <token>'.",
                    {"WWW-Authenticate": "Bearer"},
                )
        declared = headers.get("content-length", b"0")
        if declared.isdigit() and int(declared) > self.state.options.max_body_bytes:
            return _too_large(self.state.options.max_body_bytes)
        return None

    def _limited(self, receive: Any) -> Any:
        cap, timeout = self.state.options.max_body_bytes, self.state.options.body_timeout_s
        deadline = time.monotonic() + timeout
        received, complete = 0, False

        async def limited_receive() -> dict:
            nonlocal received, complete
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.001, deadline - time.monotonic()))
            except TimeoutError:
                raise ApiError(
                    408, "request_timeout", f"The request body took longer than {timeout:g}s."
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > cap:
                    raise _too_large(cap)
            return message

        return limited_receive


def _too_large(cap: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"The body is over this server's {cap:,}-byte limit.")


def _deadline(request: Request, options: ServeOptions) -> float:
    return request.scope.get(ARRIVED, time.monotonic()) + options.timeout_s


def _timings(result: BatchResult, decode_ms: float, request: Request) -> dict[str, float]:
    total = (time.monotonic() - request.scope.get(ARRIVED, time.monotonic())) * 1000
    return {
        "decode_ms": round(decode_ms, 2),
        "queue_ms": round(result.queue_ms, 2),
        "inference_ms": round(result.inference_ms, 2),
        "total_ms": round(total, 2),
    }


THRESHOLD = Query(None, description="one threshold for every label (default: tuned)")
THRESHOLDS = Query(None, description="per label, e.g. Action:0.3,Crime:0.6 (others: tuned)")


def create_app(runtime: ModelRuntime, options: ServeOptions | None = None) -> FastAPI:
    """The server's ASGI app; the batcher starts and stops with the app's lifespan."""
    options = options or ServeOptions()
    state = ServingState(runtime, options)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    app = FastAPI(
        title="Marquee",
        version=__version__,
        description="Multi-label image classification: one model, served locally.",
        lifespan=lifespan,
    )
    app.state.serving = state
    install_error_handlers(app)
    app.add_middleware(GuardMiddleware, state=state)
    _add_predict_route(app, state)
    _add_batch_route(app, state)
    _add_flash_route(app, state)
    _add_status_routes(app, state)
    return app


def _add_predict_route(app: FastAPI, state: ServingState) -> None:
    options = state.options

    @app.post("/v1/predict", openapi_extra=PREDICT_BODY, responses=ERRORS)
    async def predict(
        request: Request, threshold: float | None = THRESHOLD, thresholds: str | None = THRESHOLDS
    ) -> dict[str, Any]:
        """One image: every label's probability, the thresholds used, the predicted labels."""
        predictions = state.new_set(threshold, thresholds)
        upload = await single_image(request, options.max_body_bytes)
        result, decode_ms = await state.predict(upload, _deadline(request, options))
        predictions.record([Prediction(upload.name, result.probabilities)])
        _require_result(predictions, 0)
        doc = predictions.to_json()
        row = doc["predictions"][0]
        return {
            "labels": doc["labels"],
            "probabilities": row["probabilities"],
            "threshold_mode": doc["threshold_mode"],
            "thresholds": doc["thresholds"],
            "predicted": row["labels"],
            "timings": _timings(result, decode_ms, request),
            "batch_size": result.batch_size,
        }


def _add_batch_route(app: FastAPI, state: ServingState) -> None:
    options = state.options

    @app.post("/v1/predict/batch", openapi_extra=BATCH_BODY, responses=ERRORS)
    async def predict_batch(
        request: Request, threshold: float | None = THRESHOLD, thresholds: str | None = THRESHOLDS
    ) -> dict[str, Any]:
        """Many images; one result OR one error per image (a bad image fails only itself)."""
        predictions = state.new_set(threshold, thresholds)
        uploads = await many_images(request, options.max_body_bytes, options.max_batch_images)
        deadline = _deadline(request, options)
        outcomes = await asyncio.gather(
            *(state.predict(u, deadline) for u in uploads), return_exceptions=True
        )
        errors: dict[int, ApiError] = {}
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, ApiError):
                errors[index] = outcome
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                predictions.record([Prediction(str(index), outcome[0].probabilities)])
        doc = predictions.to_json()
        rows = {int(r["file"]): r for r in doc["predictions"]}
        results = []
        for index, upload in enumerate(uploads):
            item: dict[str, Any] = {"index": index, "file": upload.name}
            if index not in errors and rows[index]["error"]:  # the model gave NaN
                errors[index] = _no_result()
            if index in errors:
                item["error"] = {**errors[index].body()["error"], "status": errors[index].status}
            else:
                item["probabilities"] = rows[index]["probabilities"]
                item["predicted"] = rows[index]["labels"]
            results.append(item)
        return {
            "labels": doc["labels"],
            "threshold_mode": doc["threshold_mode"],
            "thresholds": doc["thresholds"],
            "results": results,
        }


def _add_flash_route(app: FastAPI, state: ServingState) -> None:
    options = state.options

    @app.post("/predict", openapi_extra=FLASH_BODY, responses=ERRORS)
    async def flash_predict(request: Request) -> dict[str, Any]:
        """Lightning Flash Serve's request and response shape, so Flash clients work as is."""
        session, data = flash_image(await read_json(request), options.max_body_bytes)
        predictions = state.new_set(None, None)
        result, _ = await state.predict(Upload("<flash>", data), _deadline(request, options))
        predictions.record([Prediction("<flash>", result.probabilities)])
        _require_result(predictions, 0)
        return {"session": session, "result": {"outputs": predictions.predicted_labels(0)}}


def _require_result(predictions: PredictionSet, row: int) -> None:
    """A 500 naming the model when it gave NaN: never a 200 with null probabilities."""
    if predictions.error(row) is not None:
        raise _no_result()


def _no_result() -> ApiError:
    return ApiError(500, "invalid_model_output", f"No result: {NOT_A_NUMBER}.")


def _add_status_routes(app: FastAPI, state: ServingState) -> None:
    runtime = state.runtime

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "not ready"}})
    async def readyz() -> Any:
        """The model is loaded and warmed up, and the inference thread runs."""
        if state.ready and state.batcher.alive:
            return {"ready": True}
        body = {"error": {"code": "not_ready", "message": "The model is not ready."}}
        return JSONResponse(body, status_code=503, headers=_RETRY)

    @app.get("/v1/model")
    async def model() -> dict[str, Any]:
        """Labels, tuned thresholds, backbone, image size, metrics, and how it is served."""
        meta = runtime.meta
        return {
            "labels": list(meta.label_names),
            "thresholds": dict(zip(meta.label_names, map(float, meta.thresholds), strict=True)),
            "backbone": meta.backbone,
            "image_size": meta.image_size,
            "mean": list(meta.mean),
            "std": list(meta.std),
            "metrics": meta.metrics,
            "created": meta.created,
            "runtime": runtime.name,
            "device": runtime.device_name,
            "max_batch": state.options.max_batch,
            "max_wait_ms": state.options.max_wait_ms,
            "max_body_bytes": state.options.max_body_bytes,
            "max_pixels": state.options.max_pixels,
            "version": __version__,
        }

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus text: requests by status, latency, batch sizes, queue depth."""
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)
