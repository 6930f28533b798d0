"""The BIRD coverage benchmark runs end to end on a slice (``--limit 10`` per dialect)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bird_coverage.py"
DATA = ROOT.parent / "shared" / "bench" / "bird-minidev"
HEADING = "## BIRD mini-dev coverage (benchmarks/bird_coverage.py)"


@pytest.mark.skipif(not (DATA / "dev_tables.json").exists(), reason=f"no BIRD data in {DATA}")
def test_a_slice_runs(tmp_path: Path) -> None:
    out = tmp_path / "bird.json"
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text("# Benchmark results\n\n## Other\n\nkept\n")
    args = ["--limit", "10", "--out", str(out), "--results", str(results_md)]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())

    assert set(results["dialects"]) == {"sqlite", "mysql", "postgresql"}
    for name, run in results["dialects"].items():
        assert run["queries"] == 10, name
        assert run["parsed"] >= run["governed"] >= run["runs_on_sqlite"], name
        assert run["governed"] + run["unfaithful"] + run["refused"] == run["parsed"], name
        assert len(run["cases"]) == run["queries"] - run["runs_on_sqlite"], name
    assert results["dialects"]["sqlite"]["runs_on_sqlite"] == 10

    text = results_md.read_text()
    assert text.startswith("# Benchmark results\n\n## Other\n\nkept\n\n" + HEADING)
    assert "| mysql | 10 |" in text
