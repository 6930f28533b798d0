"""The Spider round trip runs end to end on a slice (``--limit 15``) and reports every part.

It runs as a separate process, as a user would run it. No timing thresholds: only that
every figure is there, and that governed SQL agrees with SQLite on the slice (the
benchmark's target is 100%).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "spider_roundtrip.py"
DATA = ROOT.parent / "shared" / "bench" / "spider"
HEADING = "## Spider round trip (benchmarks/spider_roundtrip.py)"


@pytest.mark.skipif(not (DATA / "dev_gold.sql").exists(), reason=f"no Spider data in {DATA}")
def test_a_slice_runs_and_agrees(tmp_path: Path) -> None:
    out = tmp_path / "spider.json"
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text(
        f"# Benchmark results\n\n{HEADING}\n\nstale numbers\n\n## Other\n\nkept\n"
    )
    pg_url = os.environ.get("CROSSROADS_TEST_PG_URL")
    pg = ["--pg-url", pg_url] if pg_url else ["--no-pg"]
    args = ["--limit", "15", "--rounds", "1", "--repeats", "1", *pg]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--out", str(out), "--results", str(results_md)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())

    assert results["config"]["queries"] == 15
    for part in ("roundtrip", "row_filters"):
        run = results[part]
        assert run["compared"] == 15, part
        assert run["agree"] == run["compared"], run["mismatches"] + run["refusals"]
    assert results["row_filters"]["filter_kinds"]
    assert results["row_filters"]["filters"]["concert_singer"][0]
    if pg_url:
        assert results["postgres"]["compared"] == 15
        assert results["postgres"]["databases"] == {"concert_singer": {"tables": 4, "notes": []}}
    else:
        assert results["postgres"] == {"skipped": "--no-pg"}
    latency = results["latency"]
    assert latency["samples"] == 15
    assert 0 < latency["p50_ms"] <= latency["p99_ms"]
    assert results["sqlglot"]["version"]

    text = results_md.read_text()
    assert text.count(HEADING) == 1
    assert "stale numbers" not in text
    assert text.endswith("## Other\n\nkept\n")
    assert "| a. SQLite, full grants, no filters | 15 | 15 | 100.0% |" in text
