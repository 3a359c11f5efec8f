"""Reading images out of requests: raw bodies, multipart files, JSON with base64, Flash's shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from core.base.limits import loads_json
from core.serving.errors import ApiError
from core.serving.images import decode_base64
from core.serving.limits import ACCEPTED_TYPES

RAW_TYPES = (*ACCEPTED_TYPES, "image/jpg", "application/octet-stream")
_ACCEPTED_HINT = (
    "send the image as a body with Content-Type image/jpeg, image/png or image/webp, as a "
    'multipart/form-data field \'file\', or as JSON {"image": "<base64>"}'
)


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes | None
    error: ApiError | None = None


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_json(request: Request) -> Any:
    """The body as JSON: at most MAX_JSON_DEPTH deep, and every string valid Unicode.

    Either would otherwise fail only when the answer (which echoes names and Flash's
    session) is serialised: a 500 for the client's mistake.
    """
    body = await request.body()
    if not body.strip():
        raise ApiError(400, "bad_json", "The request body is empty; expected a JSON document.")
    try:
        doc = loads_json(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ApiError(400, "bad_json", f"The body is not valid JSON ({exc}).") from None
    if not _valid_unicode(doc):
        raise ApiError(400, "bad_json", "The JSON holds a lone UTF-16 surrogate (\\ud800-\\udfff).")
    return doc


def _valid_unicode(value: Any) -> bool:
    """No lone surrogate in any string or key (the depth is bounded by loads_json)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_valid_unicode(k) and _valid_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_valid_unicode(item) for item in value)
    return True


async def single_image(request: Request, max_bytes: int) -> Upload:
    """The one image of a /v1/predict request, in any of the accepted forms."""
    ctype = content_type(request)
    if ctype in RAW_TYPES:
        return Upload("<body>", await request.body())
    if ctype == "multipart/form-data":
        uploads = await _form_files(request, max_bytes, max_files=1)
        if not uploads:
            raise ApiError(400, "bad_request", "The multipart form has no 'file' field.")
        return uploads[0]
    if ctype == "application/json":
        doc = await read_json(request)
        if not isinstance(doc, dict) or "image" not in doc:
            raise ApiError(400, "bad_request", 'Expected a JSON object {"image": "<base64>"}.')
        return Upload(str(doc.get("name") or "<image>"), decode_base64(doc["image"], max_bytes))
    raise _unsupported(ctype)


async def many_images(request: Request, max_bytes: int, max_images: int) -> list[Upload]:
    """The images of a /v1/predict/batch request; a bad base64 item is that item's error."""
    ctype = content_type(request)
    if ctype == "multipart/form-data":
        uploads = await _form_files(request, max_bytes, max_files=max_images)
    elif ctype == "application/json":
        uploads = _json_items(await read_json(request), max_bytes, max_images)
    else:
        raise _unsupported(ctype, batch=True)
    if not uploads:
        raise ApiError(400, "bad_request", "The request holds no images.")
    return uploads


def _json_items(doc: Any, max_bytes: int, max_images: int) -> list[Upload]:
    items = doc.get("images") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ApiError(400, "bad_request", 'Expected a JSON object {"images": ["<base64>", ...]}.')
    if len(items) > max_images:
        raise ApiError(413, "too_many_images", f"At most {max_images} images per batch request.")
    uploads = []
    for index, item in enumerate(items):
        name, value = f"#{index}", item
        if isinstance(item, dict):
            name, value = str(item.get("name") or name), item.get("image")
        try:
            uploads.append(Upload(name, decode_base64(value, max_bytes, f"images[{index}]")))
        except ApiError as error:
            uploads.append(Upload(name, None, error))
    return uploads


async def _form_files(request: Request, max_bytes: int, max_files: int) -> list[Upload]:
    form = await request.form(max_files=max_files, max_fields=16, max_part_size=max_bytes)
    try:
        files = [v for k, v in form.multi_items() if k in ("file", "files")]
        uploads = []
        for index, item in enumerate(files):
            if not isinstance(item, UploadFile):
                data = str(item).encode()  # a text field named 'file': let sniffing refuse it
                uploads.append(Upload(f"#{index}", data))
            else:
                uploads.append(Upload(item.filename or f"#{index}", await item.read()))
        return uploads
    finally:
        await form.close()


def flash_image(doc: Any, max_bytes: int) -> tuple[Any, bytes]:
    """Flash Serve's request: {"session": ..., "payload": {"inputs": {"data": "<base64>"}}}."""
    try:
        session, data = doc.get("session"), doc["payload"]["inputs"]["data"]
    except (AttributeError, KeyError, TypeError):
        raise ApiError(
            400,
            "bad_request",
            'Expected Flash\'s {"session": ..., "payload": {"inputs": {"data": "<base64>"}}}.',
        ) from None
    return session, decode_base64(data, max_bytes, "payload.inputs.data")


def _unsupported(ctype: str, batch: bool = False) -> ApiError:
    what = f"Content-Type '{ctype}'" if ctype else "A request without a Content-Type"
    hint = (
        "send multipart/form-data 'files' or JSON {\"images\": [...]}" if batch else _ACCEPTED_HINT
    )
    return ApiError(415, "unsupported_media_type", f"{what} is not accepted here; {hint}.")
