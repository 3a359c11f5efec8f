"""`marquee trian` is a typo, not a file to open: exit 2 with the command it resembles;
options with a fixed set of values refuse anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

import gui.app
from core.cli.health_args import DATA_FORMATS
from core.cli.main import main
from core.data.datasets import FORMATS


@pytest.fixture
def windows_opened(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    opened: list[list[str]] = []
    monkeypatch.setattr(gui.app, "run_gui", lambda args: opened.append(args) or 0)
    return opened


@pytest.mark.parametrize(("typed", "meant"), [("trian", "train"), ("predcit", "predict")])
def test_a_mistyped_command_says_what_was_meant(windows_opened, capsys, typed, meant) -> None:
    assert gui.app.main([typed, "--data", "x"]) == 2
    assert f"did you mean '{meant}'?" in capsys.readouterr().err
    assert windows_opened == []


def test_an_unknown_word_that_is_no_file_is_refused(windows_opened, capsys) -> None:
    assert gui.app.main(["zzzz"]) == 2
    assert "neither a command nor an existing file" in capsys.readouterr().err
    assert windows_opened == []


def test_an_existing_file_named_like_a_typo_still_opens(windows_opened, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("trian").write_bytes(b"")  # a file a user may really have
    assert gui.app.main(["trian"]) == 0 and windows_opened == [["trian"]]
    assert gui.app.main([]) == 0  # no argument: the window


def test_format_takes_only_the_known_layouts(capsys) -> None:
    assert ("auto", *FORMATS) == DATA_FORMATS
    for command in (["train"], ["doctor", "somewhere"]):
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--format", "folderz"])
        assert exit_.value.code == 2
        assert "invalid choice: 'folderz'" in capsys.readouterr().err
