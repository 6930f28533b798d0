"""The Spider NL→SQL benchmark runs end to end on a tiny slice of the shared data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "spider_nl2sql.py"
DATA = ROOT.parent / "shared" / "bench" / "spider"
HEADING = "## Spider NL→SQL, deterministic (benchmarks/spider_nl2sql.py)"


@pytest.mark.skipif(not (DATA / "dev.json").exists(), reason=f"no Spider data at {DATA}")
def test_tiny_slice(tmp_path: Path) -> None:
    out = tmp_path / "nl.json"
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text("# Benchmark results\n\n## Other\n\nkept\n")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--limit", "12", "--out", str(out),
         "--results", str(results_md)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["questions"] == 12
    assert sum(result["outcomes"].values()) == 12
    assert set(result["outcomes"]) <= {"correct", "wrong", "refused", "error"}
    assert 0.0 <= result["execution_accuracy"] <= 1.0
    text = results_md.read_text()
    assert "## Other\n\nkept" in text
    assert HEADING in text
    assert "execution accuracy" in text
