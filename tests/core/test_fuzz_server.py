"""Malformed requests the server once answered with a 500 or a 200: now 4xx, or a clear error.

Lone UTF-16 surrogates and deep nesting in JSON are the client's mistake (400); a model
that gives NaN never yields a 200 with null probabilities; `serve --host 0.0.0.0`
without a token is refused before torch or the model is loaded.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.core.serving_helpers import ThreadServer, image_bytes, runtime_for, start_server

ROOT = Path(__file__).resolve().parents[2]
JSON = {"Content-Type": "application/json"}
IMAGE = base64.b64encode(image_bytes()).decode()


@pytest.fixture(scope="module")
def server(model_path: Path) -> Iterator[ThreadServer]:
    srv = start_server(runtime_for(model_path), max_batch=4, max_wait_ms=5)
    yield srv
    srv.stop()


@pytest.fixture
def client(server: ThreadServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def _flash(session: str) -> str:
    return f'{{"session": {session}, "payload": {{"inputs": {{"data": "{IMAGE}"}}}}}}'


BODIES: dict[str, tuple[str, str]] = {
    "batch-name-high-surrogate": (
        "/v1/predict/batch",
        f'{{"images": [{{"name": "\\ud800", "image": "{IMAGE}"}}]}}',
    ),
    "batch-name-low-surrogate": (
        "/v1/predict/batch",
        f'{{"images": [{{"name": "a\\udc80b", "image": "{IMAGE}"}}]}}',
    ),
    "flash-session-surrogate": ("/predict", _flash('"\\ud800"')),
    "flash-session-key-surrogate": ("/predict", _flash('{"\\udc80": 1}')),
    "flash-session-300-deep": ("/predict", _flash(_nested(300))),
    "flash-session-500-deep": ("/predict", _flash(_nested(500))),
    "flash-session-900-deep": ("/predict", _flash(_nested(900))),
    "single-name-surrogate": ("/v1/predict", f'{{"name": "\\ud800", "image": "{IMAGE}"}}'),
}


@pytest.mark.parametrize("case", list(BODIES))
def test_malformed_json_is_a_400_not_a_500(client: httpx.Client, case: str) -> None:
    path, body = BODIES[case]
    response = client.post(path, content=body.encode(), headers=JSON)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_json"
    assert client.get("/healthz").status_code == 200


def test_reasonable_nesting_and_unicode_still_work(client: httpx.Client) -> None:
    response = client.post("/predict", content=_flash(_nested(20)).encode(), headers=JSON)
    assert response.status_code == 200, response.text
    named = f'{{"images": [{{"name": "Café ☕ 😀", "image": "{IMAGE}"}}]}}'
    response = client.post("/v1/predict/batch", content=named.encode(), headers=JSON)
    assert response.status_code == 200 and response.json()["results"][0]["file"] == "Café ☕ 😀"


def test_a_model_that_gives_nan_is_an_error_not_a_null(model_path: Path) -> None:
    runtime = runtime_for(model_path)
    runtime.run = lambda arrays: np.full((len(arrays), 3), np.nan, np.float32)
    srv = start_server(runtime, max_batch=2, max_wait_ms=5)
    try:
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            single = c.post(
                "/v1/predict", content=image_bytes(), headers={"Content-Type": "image/jpeg"}
            )
            batch = c.post("/v1/predict/batch", json={"images": [IMAGE]})
            flash = c.post("/predict", content=_flash('"s"').encode(), headers=JSON)
    finally:
        srv.stop()
    assert single.status_code == 500 and "NaN" in single.json()["error"]["message"]
    assert flash.status_code == 500
    assert batch.status_code == 200
    (item,) = batch.json()["results"]
    assert "probabilities" not in item and item["error"]["code"] == "invalid_model_output"


_EXPOSED = """
    import sys
    from core.cli.main import main
    code = main(["serve", {model!r}, "--host", "0.0.0.0"])
    print(json.dumps({{"code": code, "torch": "torch" in sys.modules}}))
"""


def test_an_exposed_host_without_a_token_is_refused_before_torch_loads(model_path: Path) -> None:
    code = "import json\n" + textwrap.dedent(_EXPOSED.format(model=str(model_path)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert json.loads(done.stdout) == {"code": 2, "torch": False}, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("marquee: error: --host 0.0.0.0") and "--token" in line


# ------------------------------------------------------------------ the inference thread
def _batcher_failing_with(error: BaseException):
    from core.serving.batcher import Batcher

    def run_batch(_arrays: list[np.ndarray]) -> np.ndarray:
        raise error

    batcher = Batcher(run_batch, max_batch=2, max_wait_s=0.0)
    batcher.start()
    return batcher


def test_a_model_error_fails_its_requests_and_the_thread_goes_on() -> None:
    import time

    batcher = _batcher_failing_with(ValueError("bad input"))
    future = batcher.submit(np.zeros((4, 4, 3), np.uint8), time.monotonic() + 60)
    with pytest.raises(ValueError):
        future.result(timeout=60)
    assert batcher.alive
    batcher.stop()


# The thread is meant to end with the SystemExit; pytest reports any thread that does.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_system_exit_in_the_model_is_not_swallowed() -> None:
    import time

    batcher = _batcher_failing_with(SystemExit(3))
    future = batcher.submit(np.zeros((4, 4, 3), np.uint8), time.monotonic() + 60)
    with pytest.raises(RuntimeError, match="inference stopped"):
        future.result(timeout=60)
    batcher._thread.join(60)
    assert not batcher.alive
