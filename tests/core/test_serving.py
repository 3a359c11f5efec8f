"""The server against a real uvicorn on 127.0.0.1 port 0: endpoints, errors, Flash, batching."""

from __future__ import annotations

import asyncio
import base64
import time

import httpx
import numpy as np
import pytest

from core.serving.images import decode_upload
from tests.core.serving_helpers import (
    gif_bytes,
    image_bytes,
    pixel_bomb_png,
    runtime_for,
    start_server,
)

JPEG = {"Content-Type": "image/jpeg"}


@pytest.fixture(scope="module")
def runtime(model_path):
    return runtime_for(model_path)


@pytest.fixture(scope="module")
def server(runtime):
    srv = start_server(runtime, max_batch=8, max_wait_ms=20, max_body_bytes=2_000_000)
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def _expected(runtime, data: bytes) -> np.ndarray:
    return runtime.run([decode_upload(data, runtime.meta.image_size, 10**8)])[0]


# ------------------------------------------------------------------ endpoints
def test_predict_raw_multipart_and_json_agree(client, runtime) -> None:
    data = image_bytes()
    raw = client.post("/v1/predict", content=data, headers=JPEG)
    multi = client.post("/v1/predict", files={"file": ("poster.jpg", data, "image/jpeg")})
    b64 = client.post("/v1/predict", json={"image": base64.b64encode(data).decode()})
    for response in (raw, multi, b64):
        assert response.status_code == 200, response.text
    doc = raw.json()
    assert doc["labels"] == runtime.predictor.label_names
    assert set(doc["probabilities"]) == set(doc["labels"]) == set(doc["thresholds"])
    assert doc["probabilities"] == multi.json()["probabilities"] == b64.json()["probabilities"]
    expected = _expected(runtime, data)
    assert np.allclose(list(doc["probabilities"].values()), expected, atol=1e-3)
    assert doc["threshold_mode"] == "tuned"
    tuned = dict(zip(doc["labels"], runtime.predictor.thresholds, strict=True))
    assert doc["thresholds"] == pytest.approx(tuned)
    assert set(doc["timings"]) == {"decode_ms", "queue_ms", "inference_ms", "total_ms"}
    assert doc["batch_size"] >= 1


def test_thresholds_come_from_the_prediction_set(client) -> None:
    data = image_bytes(seed=3)
    low = client.post("/v1/predict?threshold=0.0001", content=data, headers=JPEG).json()
    high = client.post("/v1/predict?threshold=1", content=data, headers=JPEG).json()
    assert low["threshold_mode"] == "global" and low["predicted"] == low["labels"]
    assert high["predicted"] == []
    custom = client.post(
        "/v1/predict?thresholds=Action:0,Crime=1", content=data, headers=JPEG
    ).json()
    assert custom["threshold_mode"] == "custom"
    assert custom["thresholds"]["Action"] == 0 and custom["thresholds"]["Crime"] == 1
    assert "Action" in custom["predicted"] and "Crime" not in custom["predicted"]
    for doc in (low, high, custom):
        probs, thr = doc["probabilities"], doc["thresholds"]
        assert doc["predicted"] == [n for n in doc["labels"] if probs[n] >= thr[n]]


def test_batch_gives_one_result_or_error_per_image(client, runtime) -> None:
    good, other = image_bytes(seed=1), image_bytes((30, 200, 60), seed=2)
    files = [
        ("files", ("a.jpg", good, "image/jpeg")),
        ("files", ("b.gif", gif_bytes(), "image/gif")),
        ("files", ("c.jpg", good[:300], "image/jpeg")),
        ("files", ("d.jpg", other, "image/jpeg")),
    ]
    doc = client.post("/v1/predict/batch", files=files).json()
    results = doc["results"]
    assert [r["file"] for r in results] == ["a.jpg", "b.gif", "c.jpg", "d.jpg"]
    assert results[1]["error"]["status"] == 415 and results[2]["error"]["status"] == 422
    for index, data in ((0, good), (3, other)):
        probs = list(results[index]["probabilities"].values())
        assert np.allclose(probs, _expected(runtime, data), atol=1e-3)
    as_json = client.post(
        "/v1/predict/batch",
        json={"images": [base64.b64encode(good).decode(), "###", {"name": "x", "image": ""}]},
    ).json()["results"]
    assert "probabilities" in as_json[0]
    assert as_json[1]["error"]["code"] == "bad_base64" and as_json[2]["error"]["status"] == 400


def test_flash_serve_request_and_response_shape(client) -> None:
    data = image_bytes(seed=5)
    body = {"session": "UUID", "payload": {"inputs": {"data": base64.b64encode(data).decode()}}}
    response = client.post("/predict", json=body)
    assert response.status_code == 200
    doc = response.json()
    assert set(doc) == {"session", "result"} and doc["session"] == "UUID"
    tuned = client.post("/v1/predict", content=data, headers=JPEG).json()["predicted"]
    assert doc["result"] == {"outputs": tuned}
    assert client.post("/predict", json={"session": "x"}).status_code == 400


def test_status_endpoints(client, runtime) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"ready": True}
    model = client.get("/v1/model").json()
    assert model["labels"] == runtime.predictor.label_names
    assert model["image_size"] == runtime.meta.image_size and model["backbone"]
    assert "/v1/predict" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200
    client.post("/v1/predict", content=image_bytes(), headers=JPEG)
    text = client.get("/metrics").text
    for name in (
        'marquee_requests_total{endpoint="/v1/predict",status="200"}',
        "marquee_request_latency_seconds_bucket",
        "marquee_batch_size_bucket",
        "marquee_queue_depth",
    ):
        assert name in text


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"{nope", "headers": {"Content-Type": "application/json"}}, 400, "bad_json"),
        ({"json": {"image": "not base64!"}}, 400, "bad_base64"),
        ({"json": {"picture": "x"}}, 400, "bad_request"),
        ({"content": b"", "headers": JPEG}, 400, "empty_body"),
        ({"content": b"x" * 2_100_000, "headers": JPEG}, 413, "payload_too_large"),
        ({"content": pixel_bomb_png(), "headers": {"Content-Type": "image/png"}}, 413, None),
        ({"content": gif_bytes(), "headers": {"Content-Type": "image/gif"}}, 415, None),
        ({"content": gif_bytes(), "headers": JPEG}, 415, "unsupported_media_type"),
        ({"content": b"hello", "headers": {"Content-Type": "text/plain"}}, 415, None),
        ({"content": image_bytes()[:400], "headers": JPEG}, 422, "undecodable_image"),
    ],
)
def test_bad_input_gets_a_json_4xx(client, kwargs, status, code) -> None:
    response = client.post("/v1/predict", **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message"} and error["message"]
    assert code is None or error["code"] == code
    assert "Traceback" not in response.text


@pytest.mark.parametrize("query", ["threshold=abc", "threshold=2", "thresholds=Nope:0.5"])
def test_bad_thresholds_are_400(client, query) -> None:
    response = client.post(f"/v1/predict?{query}", content=image_bytes(), headers=JPEG)
    assert response.status_code == 400 and response.json()["error"]["message"]


def test_token_is_required_when_set(runtime) -> None:
    srv = start_server(runtime, token="s3cret")
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            assert c.get("/healthz").status_code == 200  # probes stay open
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                response = c.post("/v1/predict", content=image_bytes(), headers={**JPEG, **headers})
                assert response.status_code == 401
                assert response.json()["error"]["code"] == "unauthorized"
            assert c.get("/metrics").status_code == 401
            ok = c.post(
                "/v1/predict",
                content=image_bytes(),
                headers={**JPEG, "Authorization": "Bearer s3cret"},
            )
            assert ok.status_code == 200
    finally:
        srv.stop()


class _SlowRuntime:
    """Delegates to a real runtime, but each model call takes `delay` seconds."""

    def __init__(self, runtime, delay: float) -> None:
        self._runtime, self.delay = runtime, delay

    def __getattr__(self, name):
        return getattr(self._runtime, name)

    def run(self, arrays):
        time.sleep(self.delay)
        return self._runtime.run(arrays)

    def warm_up(self, max_batch: int) -> None:
        pass


async def _burst(url: str, n: int, timeout: float = 30) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as c:
        tasks = [c.post("/v1/predict", content=image_bytes(seed=i), headers=JPEG) for i in range(n)]
        return await asyncio.gather(*tasks)


def test_full_queue_is_503_with_retry_after(runtime) -> None:
    srv = start_server(_SlowRuntime(runtime, 0.5), max_batch=1, max_wait_ms=0, max_queue=1)
    try:
        responses = asyncio.run(_burst(srv.url, 6))
        codes = sorted(r.status_code for r in responses)
        assert 200 in codes and 503 in codes and set(codes) <= {200, 503}
        busy = next(r for r in responses if r.status_code == 503)
        assert busy.headers["Retry-After"] == "1"
        assert busy.json()["error"]["code"] == "overloaded"
    finally:
        srv.stop()


def test_request_past_its_deadline_is_504(runtime) -> None:
    srv = start_server(_SlowRuntime(runtime, 0.6), max_batch=1, max_wait_ms=0, timeout_s=0.3)
    try:
        responses = asyncio.run(_burst(srv.url, 3))
        assert {r.status_code for r in responses} == {504}
        assert responses[0].json()["error"]["code"] == "timeout"
    finally:
        srv.stop()


# ------------------------------------------------------------------ concurrency
def test_concurrent_requests_each_get_their_own_result(server, runtime) -> None:
    colours = [
        (int(r), int(g), int(b)) for r, g, b in np.random.default_rng(7).integers(0, 255, (40, 3))
    ]
    images = [image_bytes(c, seed=i) for i, c in enumerate(colours)]
    expected = [_expected(runtime, data) for data in images]

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:
            return await asyncio.gather(
                *(c.post("/v1/predict", content=d, headers=JPEG) for d in images)
            )

    responses = asyncio.run(send_all())
    got = np.array([list(r.json()["probabilities"].values()) for r in responses])
    want = np.array(expected)
    assert np.allclose(got, want, atol=1e-3)
    distances = np.abs(got[:, None, :] - want[None, :, :]).sum(-1)
    assert (distances.argmin(axis=1) == np.arange(len(images))).all()  # nobody got another's
    assert max(r.json()["batch_size"] for r in responses) > 1  # and they were batched


def test_large_models_warm_up_with_one_image_only() -> None:
    from core.serving.runtime import warm_up_batches

    assert warm_up_batches(224, 8) == [1, 4]
    assert warm_up_batches(224, 1) == [1]
    assert warm_up_batches(2048, 8) == [1]  # a batch of 4 at 2048 px would take minutes


def test_a_server_in_the_app_leaves_the_apps_log_alone() -> None:
    """Inside the app the root logger writes the log file; serving must not take Marquee's
    own lines away from it (they would vanish from the log for the rest of the session)."""
    import logging.config

    from core.serving.server import log_config

    root, marquee = logging.getLogger(), logging.getLogger("marquee")
    app_log = logging.NullHandler()
    root.addHandler(app_log)
    try:
        logging.config.dictConfig(log_config())
        assert marquee.propagate and not marquee.handlers
    finally:
        root.removeHandler(app_log)
