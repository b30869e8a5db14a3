"""``omnivec collections export NAME DEST`` / ``import``: a consistent copy at one version that
restores in another data directory and answers the same queries with the same hits and scores.

The source collection has history (several commits, a delete, a probe); the copy is made by the
CLI, restored by the CLI into a second data directory (standing for another machine), and both
are searched with the real text encoder. A damaged or incomplete export is refused before
anything is written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omnivec.cli.main import app
from omnivec.client.types import Fusion, SearchQuery
from omnivec.indexer.backup import export_collection, import_collection
from omnivec.indexer.discovery import IngestItem
from omnivec.indexer.engine import Engine
from omnivec.indexer.errors import AlreadyExistsError, CorruptDataError, NotFoundError
from omnivec.indexer.fusion_store import load_fusion, save_fusion
from omnivec.indexer.probes.examples import LabelledExample, ProbeInput

TEXTS = {
    "a1": ("the river flows to the sea", "nature"),
    "a2": ("granite mountains under snow", "nature"),
    "a3": ("a violin concerto in D major", "music"),
    "a4": ("jazz trumpet solo at midnight", "music"),
    "a5": ("compilers translate source code", "computing"),
    "a6": ("a database commits a transaction", "computing"),
    "a7": ("orchids need humidity", "nature"),
}
TUNED = Fusion({"text": 1.0, "keyword": 0.25})
QUERIES = [
    SearchQuery(text="water and mountains", k=5),
    SearchQuery(text="classical music", k=3),
    SearchQuery(text="software", k=7, where="topic = 'computing'"),
    SearchQuery(item_id="a4", k=4),
]


def _engine(settings: Any, models: Any, data_dir: Path) -> Engine:
    return Engine(settings.model_copy(update={"data_dir": data_dir}), models)


def _answers(engine: Engine, name: str) -> list[list[tuple[str, float, int]]]:
    return [
        [(h.id, round(h.score, 6), h.rank) for h in engine.search(name, q).hits] for q in QUERIES
    ]


def _source(settings: Any, models: Any, data_dir: Path) -> Engine:
    engine = _engine(settings, models, data_dir)
    engine.create_collection("docs", ["text"])
    for item_id, (text, topic) in TEXTS.items():  # one commit per item: a history of versions
        engine.upsert("docs", [IngestItem(item_id, "text", text=text, item_id=item_id,
                                          metadata={"topic": topic})])
    engine.delete_items("docs", ids=["a7"])
    engine.probes.train(
        "docs", "topic", space="text",
        examples=[LabelledExample.item(i, topic) for i, (_, topic) in TEXTS.items() if i != "a7"],
    )
    # Tuned weights (as `omnivec eval --tune` stores them): a copy without them ranks otherwise.
    save_fusion(engine.collection("docs"), TUNED, {"objective": "ndcg@10"})
    return engine


def test_export_import_round_trip_answers_identically(
    settings: Any, models: Any, settings_env: dict[str, str], tmp_path: Path
) -> None:
    source = _source(settings, models, tmp_path / "a")
    expected = _answers(source, "docs")
    assert all(expected) and {hit[0] for hit in expected[2]} == {"a5", "a6"}, expected
    version = source.describe_collection("docs").lance_version
    probe_before = source.probes.classify("docs", "topic", [ProbeInput.of_text("a symphony orchestra")])
    source.store.close()  # the model hub is the session's: keep it open

    runner = CliRunner()
    dest = tmp_path / "backup"
    result = runner.invoke(app, ["--data", str(tmp_path / "a"), "collections", "export", "docs",
                                 str(dest), "--json"], env=settings_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    exported = json.loads(result.output)
    assert exported["lance_version"] == version and exported["rows"] == len(TEXTS) - 1

    shutil.copytree(dest, tmp_path / "moved")  # another machine: nothing refers back to A
    result = runner.invoke(app, ["--data", str(tmp_path / "b"), "collections", "import",
                                 str(tmp_path / "moved"), "--json"], env=settings_env,
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["items"] == len(TEXTS) - 1

    restored = _engine(settings, models, tmp_path / "b")
    assert load_fusion(restored.collection("docs")) == TUNED
    assert _answers(restored, "docs") == expected
    assert restored.probes.classify("docs", "topic", [ProbeInput.of_text("a symphony orchestra")]) == probe_before
    report = restored.verify_collection("docs")
    assert report.ok and report.data_files_unrecorded == 0 and report.probes_checked == 1
    # The restored collection takes writes like any other.
    restored.upsert("docs", [IngestItem("n", "text", text="a new note", item_id="n")])
    assert restored.describe_collection("docs").item_count == len(TEXTS)
    restored.store.close()  # the model hub is the session's: keep it open


def test_export_is_one_version_and_import_refuses_damage(
    settings: Any, models: Any, tmp_path: Path
) -> None:
    source = _source(settings, models, tmp_path / "a")
    info = export_collection(source.store, "docs", tmp_path / "backup")
    # Writes after the export are not in it.
    source.upsert("docs", [IngestItem("late", "text", text="written later", item_id="late")])
    with pytest.raises(AlreadyExistsError, match="already holds an export"):
        export_collection(source.store, "docs", tmp_path / "backup")
    # A byte flipped inside a data file the current version uses: nothing is exported from it.
    fragment = max((tmp_path / "a").rglob("data/*.lance"), key=lambda p: p.stat().st_mtime_ns)
    raw_source = bytearray(fragment.read_bytes())
    raw_source[len(raw_source) // 2] ^= 0x01
    fragment.write_bytes(bytes(raw_source))
    with pytest.raises(CorruptDataError, match=r"collections verify docs"):
        export_collection(source.store, "docs", tmp_path / "from-damaged")
    assert not (tmp_path / "from-damaged" / "export.json").exists()
    source.store.close()  # the model hub is the session's: keep it open

    target = _engine(settings, models, tmp_path / "b")
    name = import_collection(target.store, tmp_path / "backup", "copy")
    described = target.describe_collection(name)
    assert described.row_count == info.rows == len(TEXTS) - 1
    with pytest.raises(AlreadyExistsError, match="--as NEW_NAME"):
        import_collection(target.store, tmp_path / "backup", "copy")
    with pytest.raises(NotFoundError, match="holds no export"):
        import_collection(target.store, tmp_path / "nothing-here")

    data = next((tmp_path / "backup" / "rows.lance" / "data").glob("*.lance"))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    data.write_bytes(bytes(raw))
    with pytest.raises(CorruptDataError, match=r"does not match its checksum"):
        import_collection(target.store, tmp_path / "backup", "damaged")
    assert not target.store.exists("damaged"), "nothing is published from a damaged export"
    target.store.close()  # the model hub is the session's: keep it open
