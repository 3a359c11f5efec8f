"""Refusals in the user's terms: what is wrong and what to do, never Python's wording."""

from __future__ import annotations

import pytest

from core.base.errors import DataError
from core.cli.main import main
from core.data.datasets import load_dataset


def test_a_label_file_with_a_header_and_no_rows_says_so(tmp_path) -> None:
    path = tmp_path / "metadata.csv"
    path.write_text("Id,Action,Drama\n")
    with pytest.raises(DataError) as error:
        load_dataset(path)
    assert "has a header but no rows" in str(error.value)
    assert "no label columns" not in str(error.value)


@pytest.mark.parametrize(
    ("content", "expected", "internal"),
    [
        (b'\xff\xfe[{"image": "a.jpg"}]', "is not UTF-8 text", "codec"),
        (
            b'[{"image": "a.jpg", "annotations": [{"label": "x", "n": ' + b"9" * 5000 + b"}]}]",
            "5,000 digits long",
            "set_int_max_str_digits",
        ),
    ],
    ids=["not-utf-8", "huge-number"],
)
def test_create_ml_errors_speak_plainly(tmp_path, content, expected, internal) -> None:
    path = tmp_path / "labels.json"
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        load_dataset(path)
    assert expected in str(error.value) and internal not in str(error.value)


@pytest.mark.parametrize("value", ["nan", "-1", "20000"])
def test_max_wait_ms_out_of_range_gives_the_range(tmp_path, capsys, value) -> None:
    model = tmp_path / "never-loaded.safetensors"
    assert main(["serve", str(model), "--max-wait-ms", value]) == 2
    err = capsys.readouterr().err
    assert "--max-wait-ms must be a number of milliseconds from 0 to 10000" in err
    assert f"got {float(value)}" in err
