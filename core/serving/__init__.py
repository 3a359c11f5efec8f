"""`marquee serve`: a local REST endpoint with dynamic batching (FastAPI + uvicorn, Qt-free).

- `limits.ServeOptions`: batching, body, pixel, queue and deadline limits.
- `images.decode_upload`: bytes -> a validated, resized RGB array (or a 4xx `ApiError`).
- `batcher.Batcher`: a bounded queue feeding ONE inference thread.
- `runtime.load_runtime`: the model for serving, run by torch or ONNX Runtime.
- `app.create_app`: the FastAPI application (endpoints, errors, metrics, auth);
  `inputs` reads images out of requests, `openapi` documents their bodies.
- `server.serve`: what `marquee serve` runs (uvicorn, ready line, signals).
"""
