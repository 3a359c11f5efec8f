"""Caps on what Marquee accepts from files, shared by the data set readers and the model file.

A hostile or broken file must get a short, clear refusal quickly, never a RecursionError,
a run of minutes or a message of thousands of lines. The same caps apply when a data set
is read and when a model file is loaded, so whatever trains can also be saved and read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

MAX_LABELS = 1000
MAX_LABEL_CHARS = 200
MAX_JSON_DEPTH = 64  # Create ML files need 4 levels, model metadata 3
MAX_INT_DIGITS = 100  # far past any coordinate or count; Python itself stops at 4,300

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(text: str) -> int:
    """How deeply `text`'s arrays and objects nest (0 for a scalar), without parsing it."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = deepest = 0
    for char in brackets:
        depth += 1 if char in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def loads_json(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads` that refuses deep nesting, NaN, Infinity and absurdly long whole numbers
    with a plain ValueError."""
    if json_depth(text) > max_depth:
        raise ValueError(f"it nests more than {max_depth} levels deep")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int)
    except RecursionError as exc:  # a backstop: the depth check should have caught it
        raise ValueError("it nests too deeply") from exc


def _bounded_int(digits: str) -> int:
    if len(digits) > MAX_INT_DIGITS:
        raise ValueError(f"it holds a whole number {len(digits):,} digits long")
    return int(digits)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def label_name_problem(name: object) -> str | None:
    """Why `name` cannot be a label name, or None when it can."""
    if not isinstance(name, str) or not name.strip():
        return "an empty label name"
    shown = repr(name[:30] + "…" if len(name) > 30 else name)
    if len(name) > MAX_LABEL_CHARS:
        return f"a label name {shown} of {len(name):,} characters (at most {MAX_LABEL_CHARS})"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return f"a label name {shown} with a line break or another control character"
    return None


def label_names_problem(names: list) -> str | None:
    """Why this list cannot be a model's labels (count, length, text), or None."""
    if len(names) > MAX_LABELS:
        return f"{len(names):,} labels (Marquee handles at most {MAX_LABELS:,})"
    for name in names:
        problem = label_name_problem(name)
        if problem is not None:
            return problem
    return None


def is_dir(path: Path) -> bool:
    """Path.is_dir() that answers False for a name too long for the OS or with a NUL byte."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def is_file(path: Path) -> bool:
    """Path.is_file() that answers False for a name too long for the OS or with a NUL byte."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False
