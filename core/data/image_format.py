"""What kind of image a file holds, from its first bytes alone (no Pillow: the app's window
uses this to read thumbnails through Qt before any image library loads)."""

from __future__ import annotations

_OTHER_FORMATS = {
    b"GIF87a": "a GIF image",
    b"GIF89a": "a GIF image",
    b"BM": "a BMP image",
    b"II*\x00": "a TIFF image",
    b"MM\x00*": "a TIFF image",
    b"\x00\x00\x01\x00": "an ICO image",
    b"%PDF": "a PDF document",
    b"%!PS": "a PostScript (EPS) file",
    b"\xc5\xd0\xd3\xc6": "a PostScript (EPS) file",
    b"8BPS": "a Photoshop (PSD) file",
}


def sniff_format(head: bytes) -> str | None:
    """'JPEG', 'PNG' or 'WEBP' from a file's first bytes; None for anything else."""
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def describe_format(head: bytes) -> str:
    """What an unsupported file is, in a few words ('a TIFF image', 'a PDF document')."""
    found = next((name for magic, name in _OTHER_FORMATS.items() if head.startswith(magic)), None)
    return found or "not a JPEG, PNG or WebP image"
