"""The errors core raises, one hierarchy for every caller (CLI, GUI, server).

A `MarqueeError` is something the user can fix: its message is written for them and
names the file, row or setting, and the optional hint says what to do. The CLI turns it
into exit code 2 and one line, the GUI into a dialog without a traceback, the server into
a 4xx JSON error. `Cancelled` is not a failure: the user asked to stop. Anything that is
not a `MarqueeError` is a bug and is reported as one (exit 1, details in the log).
"""

from __future__ import annotations

import re

MAX_MESSAGE_CHARS = 600  # a hostile file must not turn one message into a wall of text


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Cut `text` to at most `limit` characters, saying that it was cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 14].rstrip() + " … (shortened)"


def one_line(text: str) -> str:
    """`text` with runs of whitespace as single spaces and other control characters escaped."""
    text = " ".join(str(text).split())
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], text)


class MarqueeError(Exception):
    """A problem the user can fix; `str(error)` is the message plus the hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = shorten(message)
        self.hint = shorten(hint) if hint else None
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class Cancelled(MarqueeError):
    """The user asked to stop (Stop button, Esc, Ctrl+C). Never shown as a failure."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)


class ConfigError(MarqueeError):
    """Settings that cannot work (epochs < 1, an unknown strategy, a missing GPU...)."""


class UsageError(MarqueeError):
    """A command line that cannot work as given (bad option values, nothing to do)."""


class DataError(MarqueeError):
    """A data set, CSV, JSON label file or image that cannot be used as it is."""


class ImageDecodeError(DataError):
    """One image could not be read; `source` names it."""

    def __init__(self, source: str, reason: str) -> None:
        # One warning line per image, whatever the file name or Pillow's message holds.
        shown, why = one_line(shorten(source, 300)), one_line(shorten(reason, 200))
        super().__init__(f"{shown}: cannot read this image ({why})")
        self.source = source
        self.reason = why


class UnsupportedImage(ImageDecodeError):
    """A file that is not JPEG, PNG or WebP, whatever its name says (never parsed further)."""


class ImageTooLarge(ImageDecodeError):
    """An image whose header claims more pixels than the safety limit (never decoded)."""


class ModelFileError(MarqueeError):
    """The file is not a usable Marquee model; the message names it and says why."""


class BackboneUnavailable(MarqueeError):
    """A backbone that is unknown, or whose weights cannot be had here (offline)."""


class DownloadError(MarqueeError):
    """A download failed or its archive is damaged; nothing half-written is left behind."""


class OutputError(MarqueeError):
    """A result could not be written where the user asked (a folder, no permission, ...)."""
