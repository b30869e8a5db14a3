"""The benchmark suite stays importable and runnable: one tiny figure, the report writer, the CLI.

No timing is asserted (machines are shared); speed is measured by `omnivec bench`, not by tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_tiny_ann_figure_and_report(tmp_path: Path) -> None:
    from omnivec.bench import fig4_ann
    from omnivec.bench.common import BenchContext
    from omnivec.bench.report import write_results

    ctx = BenchContext(quick=True, repeats=1, work_dir=tmp_path / "work", log=lambda _: None,
                       threads=1, faiss_threads=1)
    results = fig4_ann.run(ctx, override={"n": 5_000, "n_ivfpq": 5_000, "n_lance": 2_000,
                                          "centres": 50, "queries": 20, "exact_queries": 5})
    assert [r.name for r in results] == ["fig4.hnsw", "fig4.ivfpq", "fig4.ivfpq_rerank",
                                         "fig4.lance"]
    for r in results:
        assert r.omnivec is not None and r.raw is not None and r.ratio is not None
        assert r.omnivec.stats.n == 1
        assert 0.0 <= r.extra["recall_at_10"] <= 1.0
        assert r.status in {"PASS", "GAP"}
    # 5k vectors is under the exact threshold: auto params pick exact search, recall is perfect.
    assert results[0].extra["auto_params"]["kind"] == "flat"
    assert results[0].extra["recall_at_10"] == 1.0
    # 2k vectors of 512-d are far over fig4.lance's 1 MiB budget: LanceDB's index serves them.
    assert results[3].extra["index_kind"] == "lance-ivf-hnsw-sq"

    paths = write_results(results, out_dir=tmp_path / "out", mode="quick", started=0.0,
                          settings={"device": "cpu", "torch_threads": 1, "faiss_threads": 1,
                                    "decode_workers": 2, "repeats": 1})
    doc = json.loads(paths["latest_json"].read_text())
    assert doc["machine"]["cores"] >= 1
    assert [f["name"] for f in doc["figures"]] == ["fig4.hnsw", "fig4.ivfpq", "fig4.ivfpq_rerank",
                                                   "fig4.lance"]
    assert paths["json"].read_text() == paths["latest_json"].read_text()
    md = paths["latest_md"].read_text()
    assert "| fig4.hnsw |" in md and "recall_at_10" in md


def test_stats_and_pairing_alternate_sides() -> None:
    from omnivec.bench.common import paired, stats

    order: list[str] = []
    a, b = paired(lambda r: order.append("a") or 2.0, lambda r: order.append("b") or 1.0, 3)
    assert order == ["a", "b", "b", "a", "a", "b"]
    s = stats([x / y for x, y in zip(a, b)])
    assert (s.median, s.min, s.max, s.n) == (2.0, 2.0, 2.0, 3)


def test_only_parsing() -> None:
    from omnivec.bench.suite import parse_only

    assert parse_only("fig1, FIG4") == ["fig1", "fig4"]
    assert parse_only(None)[0] == "fig1"
    assert "fig8" not in parse_only(None) and parse_only("fig8") == ["fig8"]  # opt-in
    with pytest.raises(ValueError, match="fig9"):
        parse_only("fig9")


def test_bench_command_registers() -> None:
    import typer
    from typer.testing import CliRunner

    from omnivec.cli import bench_command

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test app"""

    bench_command.register(app)
    result = CliRunner().invoke(app, ["bench", "--help"])
    assert result.exit_code == 0
    assert "--quick" in result.output and "--only" in result.output
