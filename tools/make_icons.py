"""Draw Marquee's app icon and write resources/marquee.{png,ico,icns} (Pillow only).

Run from the repository root: `python tools/make_icons.py`. The design: a rounded indigo
tile with a white "M" drawn as a line chart, under a row of marquee bulbs.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ACCENT = (91, 91, 214)
ACCENT_DARK = (60, 60, 170)
BULB = (255, 214, 102)
OUT = Path(__file__).resolve().parent.parent / "resources"
SIZE = 1024  # drawn large, scaled down for each output


def draw_icon(size: int = SIZE) -> Image.Image:
    s = size / 256
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((8 * s, 8 * s, 248 * s, 248 * s), radius=56 * s, fill=ACCENT_DARK)
    draw.rounded_rectangle((8 * s, 8 * s, 248 * s, 236 * s), radius=56 * s, fill=ACCENT)
    for i in range(5):  # marquee bulbs
        cx, cy, r = (64 + 32 * i) * s, 52 * s, 9 * s
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=BULB)
    points = [(62, 196), (62, 96), (128, 160), (194, 96), (194, 196)]
    draw.line([(x * s, y * s) for x, y in points], fill="white", width=int(24 * s), joint="curve")
    for x, y in (points[0], points[-1]):
        r = 12 * s
        draw.ellipse((x * s - r, y * s - r, x * s + r, y * s + r), fill="white")
    return image


def draw_check(size: int = 64) -> Image.Image:
    """The white tick drawn on checked check boxes (style sheet `image:`)."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    s = size / 16
    ImageDraw.Draw(image).line(
        [(3.5 * s, 8.5 * s), (6.5 * s, 11.5 * s), (12.5 * s, 4.5 * s)],
        fill="white",
        width=int(2.2 * s),
        joint="curve",
    )
    return image.resize((32, 32), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    big = draw_icon()
    icon = big.resize((256, 256), Image.Resampling.LANCZOS)
    icon.save(OUT / "marquee.png", optimize=True)
    icon.save(
        OUT / "marquee.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (256, 256)]
    )
    big.resize((512, 512), Image.Resampling.LANCZOS).save(OUT / "marquee.icns")
    draw_check().save(OUT / "check.png", optimize=True)
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('marquee.*')))} to {OUT}")


if __name__ == "__main__":
    main()
