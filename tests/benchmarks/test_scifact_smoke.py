"""The SciFact benchmark runs end to end on a slice: 300 documents, 20 queries per split,
BM25 only (no embedding), 200 leak-test queries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "scifact.py"
DATA = ROOT.parent / "shared" / "bench" / "beir-scifact"
HEADING = "## BEIR SciFact (document routes)"


@pytest.mark.skipif(
    not (DATA / "corpus.jsonl").exists(),
    reason=f"no BEIR SciFact data at {DATA} (see shared/bench/beir-scifact/SOURCE.md)",
)
def test_a_slice_runs(tmp_path: Path) -> None:
    out = tmp_path / "scifact.json"
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text("# Benchmark results\n\n## Other\n\nkept\n")
    args = [
        "--corpus-limit", "300", "--limit", "20", "--modes", "bm25", "--leak-queries", "200",
        "--json", str(out), "--results", str(results_md),
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())

    data = result["data"]
    assert data["documents"] == 300
    assert 0 < data["test_queries"] <= 20
    assert 0 < data["train_queries"] <= 20
    assert result["modes"] == ["bm25"]
    for split in ("test", "train"):
        figures = result["quality"][split]
        assert set(figures) == {"bm25"}, split
        bm25 = figures["bm25"]
        assert bm25["queries"] == data[f"{split}_queries"]
        assert 0.0 <= bm25["ndcg_at_10"] <= 1.0
        assert 0.0 <= bm25["recall_at_100"] <= 1.0
    assert result["build"]["chunks"] >= 300
    assert "dense" not in result["build"]
    latency = result["latency"]["bm25"]
    assert 0 < latency["p50_ms"] <= latency["p99_ms"]

    leak = result["leak"]
    assert leak["queries"] == 200
    assert leak["principals"] >= 25
    assert leak["principals_denied"] >= 3
    assert leak["hits_checked"] > 0
    assert leak["leaks"] == 0
    assert leak["denied"] == leak["expected_denials"] > 0
    assert leak["unexpected_denials"] == leak["unexpected_allowed"] == 0
    assert leak["metadata_mismatches"] == 0
    assert leak["bm25_exact_checks"] > 0
    assert leak["bm25_mismatches"] == 0
    llm = leak["llm"]
    assert llm["prompts"] > 0
    assert llm["passages_checked"] > 0
    assert llm["forbidden_ids_read"] == llm["forbidden_texts_read"] == 0
    assert llm["forbidden_sources"] == llm["llm_called_when_denied"] == 0

    needle = result["needle"]
    assert set(needle["per_n"]) == {"10", "50", "200"}
    for n, row in needle["per_n"].items():
        assert row["placements"] > 0, n
        assert row["found"] == row["cited"] == row["placements"], n
        assert row["read_exact"] == row["llm_prompt_exact"] == row["placements"], n
        assert row["read_forbidden_documents"] == 0, n
        assert row["forbidden_used"] == row["forbidden_cited"] == 0, n
        assert row["llm_prompt_forbidden_read"] == 0, n
        assert row["llm_prompt_has_needle"] == row["llm_prompts"] == row["placements"], n
        assert row["over_budget_refused"] == row["placements"], n

    assert "nDCG@10" in done.stdout
    text = results_md.read_text()
    assert "## Other\n\nkept" in text
    assert HEADING in text
    assert "A partial run" in text
