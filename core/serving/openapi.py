"""What /docs shows for the endpoints that read their body themselves (several content types)."""

from __future__ import annotations

from typing import Any

from core.serving.limits import ACCEPTED_TYPES

_IMAGE_SCHEMA = {"schema": {"type": "string", "format": "binary"}}
PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            **{t: _IMAGE_SCHEMA for t in ACCEPTED_TYPES},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"image": {"type": "string", "description": "base64"}},
                    "required": ["image"],
                }
            },
        },
    }
}
BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"images": {"type": "array", "items": {"type": "string"}}},
                }
            },
        },
    }
}
FLASH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "example": {"session": "UUID", "payload": {"inputs": {"data": "<base64>"}}}
            }
        },
    }
}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        400: "bad JSON, bad base64 or a bad threshold",
        401: "token missing or wrong",
        413: "body over the cap, or too many pixels",
        415: "not a JPEG, PNG or WebP image",
        422: "truncated or undecodable image",
        503: "queue full (see Retry-After) or not ready",
        504: "past the request's deadline",
    }.items()
}
