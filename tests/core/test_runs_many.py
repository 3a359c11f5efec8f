"""A thousand runs list whole and in order, from the index and from the folders alone
(how fast is measured by bench/bench_runs.py, not asserted here)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.cli.main import main
from core.runs import RunRecord, RunStore
from core.runs.index import INDEX_NAME, RECORD_NAME

COUNT = 1000


def _write(root: Path) -> list[str]:
    """COUNT small records straight to disk, in shuffled order of creation."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = []
    for i in sorted(range(COUNT), key=lambda n: (n * 7919) % COUNT):
        when = start + timedelta(minutes=i)
        record = RunRecord(
            id=f"{when:%Y%m%d-%H%M%S}-{i:04x}", started=when.isoformat(), status="finished",
            settings={"backbone": "efficientnet_lite0"}, metrics={"map": i / COUNT},
            model_file="model.safetensors",
        )  # fmt: skip
        (root / record.id).mkdir(parents=True)
        (root / record.id / RECORD_NAME).write_text(record.to_json())
        ids.append(record.id)
    return sorted(ids, reverse=True)


def test_a_thousand_runs_list_whole_newest_first(tmp_path: Path, capsys) -> None:
    newest_first = _write(tmp_path / "runs")
    store = RunStore(tmp_path / "runs")
    assert [r.id for r in store.list()] == newest_first  # cold: the index is built
    index = json.loads((tmp_path / "runs" / INDEX_NAME).read_text())
    assert len(index["runs"]) == COUNT
    assert [r.id for r in store.list()] == newest_first  # warm: from the index
    assert store.resolve("best") == newest_first[0]  # the highest mAP is the newest


def test_the_cli_lists_a_thousand_runs(marquee_home: Path, capsys) -> None:
    newest_first = _write(marquee_home / "data" / "runs")
    assert main(["runs", "list", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["runs"]] == newest_first
