"""A small fuzz corpus, generated at test time: every malformed input is exit 2 and one line.

One parametrised test per category (model headers, paths, data files, zips, CLI
arguments, images). Each case runs `marquee` in-process and asserts exit code 2,
exactly one stderr line that is not a warning, starting with `marquee: error:`, and no
traceback. Inputs are tiny and written into tmp_path.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import threading
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli.main import main
from core.data import decode
from core.data import movie_posters as download
from core.modelfile.checkpoint import METADATA_KEY, read_meta

MAX_LINE = 800  # a hostile input must never become a wall of text


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, err: str) -> str:
    """Exit 2, exactly one non-warning stderr line, `marquee: error: ...`, no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("marquee: warning:")]
    assert code == 2, err[-2000:]
    assert len(lines) == 1, err[-2000:]
    assert lines[0].startswith("marquee: error:"), lines[0][:2000]
    assert len(lines[0]) <= MAX_LINE, lines[0][:2000]
    return lines[0]


def tiny_image(path: Path, colour: tuple[int, int, int] = (200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16, 3), colour, dtype=np.uint8)).save(path)
    return path


# ------------------------------------------------------------------ model headers
def _rewrite(model_path: Path, target: Path, metadata: str) -> Path:
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(model_path)), str(target), metadata={METADATA_KEY: metadata})
    return target


def _with(**changes: object) -> Callable[[dict], str]:
    def build(meta: dict) -> str:
        return json.dumps({**meta, **changes})

    return build


def _labels(n: int, name: Callable[[int], str] = lambda i: f"label{i}") -> Callable[[dict], str]:
    return _with(label_names=[name(i) for i in range(n)], thresholds=[0.5] * n)


def _nested(meta: dict) -> str:
    return json.dumps(meta)[:-1] + ', "deep": ' + "[" * 5000 + "]" * 5000 + "}"


HEADERS: dict[str, Callable[[dict], str]] = {
    "dropout-null": lambda m: json.dumps({**m, "config": {**m["config"], "dropout": None}}),
    "dropout-list": lambda m: json.dumps({**m, "config": {**m["config"], "dropout": [0.2]}}),
    "dropout-string": lambda m: json.dumps({**m, "config": {**m["config"], "dropout": "x"}}),
    "per-label-ints": _with(per_label=[1, 2, 3]),
    "per-label-strings": _with(per_label=["Action", "Romance", "Crime"]),
    "per-label-missing-keys": _with(per_label=[{"name": "Action"}] * 3),
    "per-label-wrong-types": _with(
        per_label=[
            {"name": 1, "ap": "x", "precision": [], "recall": {}, "f1": None, "support": "9"}
        ]
        * 3
    ),
    "metrics-list": _with(metrics=[1, 2]),
    "metrics-text": _with(metrics={"map": "great", "f1_micro": [0.5]}),
    "config-list": _with(config=[1]),
    "deeply-nested": _nested,
    "ten-thousand-labels": _labels(10_000),
    "huge-label-name": _labels(3, lambda i: f"{i}" + "x" * 100_000),
    "label-with-newline": _labels(3, lambda i: f"line\n{i}"),
    "header-of-two-megabytes": _with(padding="x" * 2_000_000),
    "nan-threshold": lambda m: json.dumps({**m, "thresholds": [float("nan")] * 3}),
    "created-number": _with(created=12),
    "bool-image-size": _with(image_size=True),
}


@pytest.fixture(scope="module")
def base_meta(model_path: Path) -> dict:
    from dataclasses import asdict

    return asdict(read_meta(model_path))


@pytest.mark.parametrize("command", ["info", "predict"])
@pytest.mark.parametrize("case", list(HEADERS))
def test_model_header_fuzz(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    model_path: Path,
    base_meta: dict,
    case: str,
    command: str,
) -> None:
    model = _rewrite(model_path, tmp_path / "m.safetensors", HEADERS[case](base_meta))
    args = [model, tiny_image(tmp_path / "a.png")] if command == "predict" else [model]
    code, _, err = run_cli(capsys, command, *args)
    line = assert_user_error(code, err)
    assert "m.safetensors: invalid model file" in line


def test_a_model_file_is_judged_by_its_content_not_its_suffix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_path: Path
) -> None:
    renamed = tmp_path / "model.pt"
    renamed.write_bytes(model_path.read_bytes())
    code, out, err = run_cli(capsys, "info", renamed)
    assert code == 0, err
    assert "Action" in out


# ------------------------------------------------------------------ paths
def _fifo(tmp: Path) -> Path:
    path = tmp / "pipe.csv"
    os.mkfifo(path)
    return path


def _long_name(tmp: Path, suffix: str = "") -> Path:
    return tmp / ("n" * 300 + suffix)


def _past_os_limit(tmp: Path, suffix: str = "") -> Path:
    return tmp.joinpath(*["d" * 200] * 25) / ("x" + suffix)


PATHS: dict[str, Callable[[Path, Path, Path], list[object]]] = {
    # (tmp_path, model_path, data_dir) -> arguments
    "predict-csv-is-a-folder": lambda t, m, d: ["predict", m, _img(t), "--csv", t],
    "predict-csv-name-too-long": lambda t, m, d: [
        "predict", m, _img(t), "--csv", _long_name(t, ".csv")
    ],
    "predict-csv-folder-missing": lambda t, m, d: [
        "predict", m, _img(t), "--csv", t / "nope" / "r.csv"
    ],
    "predict-csv-path-past-os-limit": lambda t, m, d: [
        "predict", m, _img(t), "--csv", _past_os_limit(t, ".csv")
    ],
    "train-out-is-a-folder": lambda t, m, d: ["train", "--data", d, "--out", _dir(t)],
    "train-out-name-too-long": lambda t, m, d: [
        "train", "--data", d, "--out", _long_name(t, ".safetensors")
    ],
    "train-out-path-past-os-limit": lambda t, m, d: [
        "train", "--data", d, "--out", _past_os_limit(t, ".safetensors")
    ],
    "train-weights-name-too-long": lambda t, m, d: [
        "train", "--data", d, "--weights", _long_name(t, ".pth")
    ],
    "train-data-dev-null": lambda t, m, d: ["train", "--data", "/dev/null"],
    "train-data-fifo": lambda t, m, d: ["train", "--data", _fifo(t)],
    "train-data-name-too-long": lambda t, m, d: ["train", "--data", _long_name(t)],
    "train-data-past-os-limit": lambda t, m, d: ["train", "--data", _past_os_limit(t)],
    "evaluate-data-dev-null": lambda t, m, d: ["evaluate", m, "--data", "/dev/null"],
    "info-model-is-a-folder": lambda t, m, d: ["info", t],
    "info-model-is-dev-null": lambda t, m, d: ["info", "/dev/null"],
    "info-model-name-too-long": lambda t, m, d: ["info", _long_name(t, ".safetensors")],
    "predict-input-name-too-long": lambda t, m, d: ["predict", m, _long_name(t, ".png")],
    "predict-input-past-os-limit": lambda t, m, d: ["predict", m, _past_os_limit(t, ".png")],
    "predict-model-past-os-limit": lambda t, m, d: [
        "predict", _past_os_limit(t, ".safetensors"), _img(t)
    ],
}  # fmt: skip


def _quick(command: object) -> list[object]:
    """Options that keep a run short should a case wrongly get as far as training."""
    if command == "train":
        return ["--quiet", "--epochs", 1, "--image-size", 64]
    return [] if command == "info" else ["--quiet"]


def _img(tmp: Path) -> Path:
    return tiny_image(tmp / "img" / "a.png")


def _dir(tmp: Path) -> Path:
    folder = tmp / "out.safetensors"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("case", list(PATHS))
def test_path_fuzz(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_path: Path, data_dir: Path, case: str
) -> None:
    args = PATHS[case](tmp_path, model_path, data_dir)
    code, _, err = run_cli(capsys, *args, *_quick(args[0]))
    assert_user_error(code, err)
    assert not list(tmp_path.glob(".*.tmp"))


# ------------------------------------------------------------------ data files
def _csv_with_columns(tmp: Path) -> Path:
    tiny_image(tmp / "a.png")
    names = [f"l{i}" for i in range(100_000)]
    ones = ["1"] * len(names)
    (tmp / "labels.csv").write_text(
        "image," + ",".join(names) + "\na.png," + ",".join(ones) + "\n", encoding="utf-8"
    )
    return tmp / "labels.csv"


def _createml_nested(tmp: Path) -> Path:
    tiny_image(tmp / "a.png")
    path = tmp / "labels.json"
    path.write_text("[" * 5000 + "]" * 5000, encoding="utf-8")
    return path


def _createml_nested_entry(tmp: Path) -> Path:
    tiny_image(tmp / "a.png")
    path = tmp / "labels.json"
    path.write_text(
        '[{"image": "a.png", "annotations": ' + "[" * 5000 + "]" * 5000 + "}]", encoding="utf-8"
    )
    return path


def _label_cell(cell: str, ident: str = "a.png") -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        tiny_image(tmp / "a.png")
        path = tmp / "labels.csv"
        path.write_text(f'image,labels\n{ident},"{cell}"\n', encoding="utf-8")
        return path

    return build


def _many_labels(tmp: Path) -> Path:
    tiny_image(tmp / "a.png")
    path = tmp / "labels.csv"
    path.write_text("image,labels\na.png," + "|".join(f"g{i}" for i in range(1500)) + "\n")
    return path


def _createml_long_label(tmp: Path) -> Path:
    tiny_image(tmp / "a.png")
    path = tmp / "labels.json"
    path.write_text(json.dumps([{"image": "a.png", "annotations": ["y" * 1_000_000]}]))
    return path


def _onehot_long_header(tmp: Path) -> Path:
    tiny_image(tmp / "a.png")
    path = tmp / "labels.csv"
    path.write_text("image," + "z" * 500 + ",B\na.png,1,0\n", encoding="utf-8")
    return path


# case -> (data file maker, what the error line must say)
DATA: dict[str, tuple[Callable[[Path], Path], str]] = {
    "csv-with-100000-columns": (_csv_with_columns, "100,001 columns"),
    "csv-with-1500-labels": (_many_labels, "1,500 labels"),
    "createml-nested-5000-deep": (_createml_nested, "nests more than"),
    "createml-annotations-nested-5000-deep": (_createml_nested_entry, "nests more than"),
    "createml-label-of-a-megabyte": (_createml_long_label, "1,000,000 characters"),
    "label-list-cell-nested-5000-deep": (
        _label_cell("[" * 4999 + "]" * 4999),
        "lists inside the list",
    ),
    "label-name-of-a-megabyte": (_label_cell("x" * 1_000_000), "1,000,000 characters"),
    "onehot-label-of-500-chars": (_onehot_long_header, "500 characters"),
    "id-of-300-chars": (_label_cell("Drama", ident="i" * 300), "too long"),
    "id-past-the-os-path-limit": (
        _label_cell("Drama", ident="d/" * 2100 + "a.png"),
        "too long",
    ),
    "id-with-nul": (_label_cell("Drama", ident="a\x00.png"), "NUL"),
}


@pytest.mark.parametrize("case", list(DATA))
def test_data_file_fuzz(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    """Refused from the label file alone: quickly, whatever the machine's load, because no
    image is decoded (the slow part a hostile file could otherwise set off)."""
    make, says = DATA[case]
    path = make(tmp_path)
    decoded: list[object] = []
    # the one decoder: the image cache and every other reader go through it
    monkeypatch.setattr(decode, "load_rgb", lambda source, size: decoded.append(source))
    code, _, err = run_cli(capsys, "train", "--data", path, "--quiet", "--epochs", 1)
    assert says in assert_user_error(code, err)
    assert decoded == []


def test_label_names_are_checked_before_any_image_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.data import datasets
    from core.data.datasets import DataError, load_dataset

    def no_decoding(*args: object, **kwargs: object) -> dict:
        raise AssertionError("images were decoded before the label names were checked")

    monkeypatch.setattr(datasets, "check_images", no_decoding)
    for i in range(3):
        tiny_image(tmp_path / f"{i}.png")
    long_name = "x" * 50_000
    (tmp_path / "labels.csv").write_text(f"image,labels\n0.png,{long_name}\n1.png,A\n2.png,B\n")
    with pytest.raises(DataError, match="50,000 characters"):
        load_dataset(tmp_path / "labels.csv")


def test_long_ids_are_reported_per_row_and_the_rest_still_loads(tmp_path: Path) -> None:
    from core.data.datasets import load_dataset

    tiny_image(tmp_path / "a.png")
    tiny_image(tmp_path / "b.png", (30, 200, 30))
    long_id, deep_id = "i" * 300, "d/" * 2100 + "a.png"
    (tmp_path / "labels.csv").write_text(
        f"image,labels\na.png,Drama\nb.png,Comedy\n{long_id},Drama\n{deep_id},Drama\n"
    )
    dataset = load_dataset(tmp_path / "labels.csv", val_fraction=0.5)
    assert len(dataset.train) + len(dataset.val) == 2
    errors = [p for p in dataset.report.errors if "too long" in p.message]
    assert [p.where for p in errors] == ["labels.csv row 4", "labels.csv row 5"]
    assert all(len(p.message) < 400 for p in errors)


# ------------------------------------------------------------------ zips
@contextlib.contextmanager
def serve(body: bytes) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/posters.zip"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]], method: int = zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return buffer.getvalue()


_GOOD = ("movie_posters/train/metadata.csv", b"Id,Action\ntt1,1\n")


def _empty_name() -> bytes:
    return _zip([_GOOD, (zipfile.ZipInfo(""), b"x")])


def _deep_dirs() -> bytes:
    return _zip([_GOOD, ("movie_posters/" + "d/" * 10_000 + "x.jpg", b"x")])


def _patched(field: tuple[int, int], value: int) -> bytes:
    """One stored entry with a 16-bit field set in its local and central headers.

    `field` is the field's offset in the local header and in the central directory.
    """
    data = bytearray(_zip([("movie_posters/train/tt1.jpg", b"pixels")], zipfile.ZIP_STORED))
    for signature, offset in zip((b"PK\x03\x04", b"PK\x01\x02"), field, strict=True):
        at = data.find(signature) + offset
        data[at : at + 2] = struct.pack("<H", value)
    return bytes(data)


def _encrypted() -> bytes:
    return _patched((6, 8), 0x1)  # general purpose flag bit 0: encrypted


def _unknown_method() -> bytes:
    return _patched((8, 10), 99)  # compression method 99


def _corrupt_deflate() -> bytes:
    data = bytearray(_zip([("movie_posters/train/tt1.jpg", os.urandom(64) * 64)]))
    name_len, extra_len = struct.unpack("<HH", data[26:30])
    start = 30 + name_len + extra_len
    data[start : start + 40] = b"\xff" * 40
    return bytes(data)


def _bad_crc() -> bytes:
    data = bytearray(_zip([("movie_posters/train/tt1.jpg", b"pixels" * 10)], zipfile.ZIP_STORED))
    name_len, extra_len = struct.unpack("<HH", data[26:30])
    data[30 + name_len + extra_len] ^= 0xFF
    return bytes(data)


ZIPS: dict[str, Callable[[], bytes]] = {
    "entry-with-empty-name": _empty_name,
    "directories-10000-deep": _deep_dirs,
    "encrypted-entry": _encrypted,
    "unknown-compression-method": _unknown_method,
    "corrupt-deflate-data": _corrupt_deflate,
    "bad-crc": _bad_crc,
}


@pytest.mark.parametrize("case", list(ZIPS))
def test_zip_fuzz(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    marquee_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    with serve(ZIPS[case]()) as url:
        monkeypatch.setattr(download, "MOVIE_POSTERS_URL", url)
        code, _, err = run_cli(capsys, "train", "--movie-posters", "--quiet")
    line = assert_user_error(code, err)
    assert "damaged" in line and "again" in line
    datasets = marquee_home / "data" / "datasets"
    assert sorted(p.name for p in datasets.iterdir()) == []


# ------------------------------------------------------------------ command-line arguments
ARGS: dict[str, Callable[[Path, Path, Path], list[object]]] = {
    "predict-batch-size-minus-one": lambda t, m, d: ["predict", m, _img(t), "--batch-size", -1],
    "predict-batch-size-zero": lambda t, m, d: ["predict", m, _img(t), "--batch-size", 0],
    "evaluate-batch-size-zero": lambda t, m, d: ["evaluate", m, "--data", d, "--batch-size", 0],
    "evaluate-batch-size-minus-one": lambda t, m, d: [
        "evaluate", m, "--data", d, "--batch-size", -1
    ],
    "train-out-pt": lambda t, m, d: ["train", "--data", d, "--out", t / "model.pt"],
    "train-out-pth": lambda t, m, d: ["train", "--data", d, "--out", t / "model.pth"],
    "train-out-no-suffix": lambda t, m, d: ["train", "--data", d, "--out", t / "model"],
    "train-batch-size-zero": lambda t, m, d: ["train", "--data", d, "--batch-size", 0],
    "predict-threshold-above-one": lambda t, m, d: ["predict", m, _img(t), "--threshold", 2],
}  # fmt: skip


@pytest.mark.parametrize("case", list(ARGS))
def test_cli_argument_fuzz(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_path: Path, data_dir: Path, case: str
) -> None:
    args = ARGS[case](tmp_path, model_path, data_dir)
    code, _, err = run_cli(capsys, *args, *_quick(args[0]))
    line = assert_user_error(code, err)
    option = [str(a) for a in args if str(a).startswith("--")][-1]
    assert option.lstrip("-").replace("-", " ")[:5] in line.replace("-", " ")
    assert not list(tmp_path.glob("model*"))


# ------------------------------------------------------------------ images
def _truncated_jpeg(path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        buffer, "JPEG"
    )
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def _png_header(side: int) -> Callable[[Path], None]:
    """A valid PNG header claiming side x side pixels, and no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    def write(path: Path) -> None:
        ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))

    return write


def _bad_png_data(path: Path) -> None:
    tiny_image(path)
    data = bytearray(path.read_bytes())
    at = data.find(b"IDAT") + 8
    data[at : at + 20] = b"\x00" * 20
    path.write_bytes(bytes(data))


@contextlib.contextmanager
def no_python_warnings() -> Iterator[None]:
    """Fail if a Python warning escapes: outside pytest it is two stray lines on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert [str(w.message) for w in caught] == []


BAD_IMAGES: dict[str, Callable[[Path], None]] = {
    "empty.jpg": lambda p: p.write_bytes(b""),
    "text.png": lambda p: p.write_text("not an image\nsecond line\n"),
    "truncated.jpg": _truncated_jpeg,
    "bomb.png": _png_header(100_000),  # over twice Pillow's pixel limit: an error
    "bomb-warning.png": _png_header(10_000),  # between one and two times: only a warning
    "bad-data.png": _bad_png_data,
    "html.webp": lambda p: p.write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\n<html>" * 50),
    "gif-renamed.jpeg": lambda p: Image.new("P", (4, 4)).save(p, "GIF"),
}


@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_image_fuzz(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_path: Path, case: str
) -> None:
    bad = tmp_path / case
    BAD_IMAGES[case](bad)
    with no_python_warnings():
        code, _, err = run_cli(capsys, "predict", model_path, bad, "--quiet")
    if code == 0:  # Pillow read it after all (a GIF named .jpeg): nothing to warn about
        assert err == ""
        return
    assert_user_error(code, err)
    warnings = [line for line in err.splitlines() if line.startswith("marquee: warning:")]
    assert len(warnings) == 1 and case in warnings[0]


def test_every_skipped_image_gets_exactly_one_warning_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_path: Path
) -> None:
    folder = tmp_path / "mixed"
    for i in range(6):
        tiny_image(folder / f"good{i}.png", (i * 40, 90, 90))
    for name, make in BAD_IMAGES.items():
        make(folder / name)
    with no_python_warnings():
        code, out, err = run_cli(
            capsys, "predict", model_path, folder, "--quiet", "--batch-size", 4
        )
    assert code == 0, err
    lines = err.splitlines()
    assert all(line.startswith("marquee: warning:") for line in lines), err
    named = sorted(name for name in BAD_IMAGES for line in lines if name in line)
    assert len(named) == len(lines)
    assert len(set(named)) == len(named)
    assert all(f"good{i}.png" in out for i in range(6))


def test_saving_a_model_over_a_folder_is_an_output_error_without_leftovers(
    trained, tmp_path: Path
) -> None:
    from core.base.errors import OutputError
    from core.modelfile.checkpoint import save_model

    (tmp_path / "m.safetensors").mkdir()
    with pytest.raises(OutputError, match=r"m\.safetensors"):
        save_model(tmp_path / "m.safetensors", trained.result.model, trained.result.meta)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
