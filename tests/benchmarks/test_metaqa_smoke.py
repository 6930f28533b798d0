"""The MetaQA benchmark runs end to end on a slice (``--limit 30``, a small fit)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "metaqa.py"
DATA = ROOT.parent / "shared" / "bench" / "metaqa"
HEADING = "## MetaQA (knowledge-graph route)"
PASSES = {"dev_holdout", "test", "test_no_brackets", "ntm_test"}


@pytest.mark.skipif(not (DATA / "kb.txt").exists(), reason=f"no MetaQA data at {DATA}")
def test_a_slice_runs(tmp_path: Path) -> None:
    out = tmp_path / "metaqa.json"
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text("# Benchmark results\n\n## Other\n\nkept\n")
    args = ["--limit", "30", "--fit-limit", "300", "--json", str(out), "--results", str(results_md)]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["kb"]["edges"] > 100_000
    assert result["kb"]["load_seconds"] > 0
    assert {h["examples"] for h in result["fit"]["hops"].values()} == {300}
    assert set(result["passes"]) == PASSES
    for name, p in result["passes"].items():
        assert p["questions"] == 30 * len(p["hops"]), name
        assert p["questions_per_second"] > 0
        assert p["runner_calls_per_question"]["graph.ask"] == pytest.approx(1.0)
        for hop, f in p["hops"].items():
            assert isinstance(f["hits_at_1"], float), (name, hop)
            assert 0.0 <= f["hits_at_1"] <= 1.0, (name, hop)
            assert f["hits"] + sum(f["miss_classes"].values()) == f["questions"]
            assert f["cannot_answer"] >= f["ambiguous"] >= 0
            assert len(f["misses"]) <= 20
            assert f["latency_ms"]["p50"] <= f["latency_ms"]["p99"]
    assert set(result["passes"]["test"]["hops"]) == {"1", "2", "3"}
    assert result["passes"]["test"]["hops"]["1"]["hits_at_1"] >= 0.8
    assert result["pinned_cpu"] is None or isinstance(result["pinned_cpu"], int)
    assert "Hits@1" in done.stdout
    text = results_md.read_text()
    assert "## Other\n\nkept" in text
    assert HEADING in text
    assert "1,159 exact-duplicate lines" in text
