"""The routing benchmark runs end to end on a slice, and the shipped default rows are the
ones the pharma example's fit questions produce today (regenerate with --write-rows)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import crossroads as xr
from crossroads.agents._classifier import default_rows

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "routing.py"
HEADING = "## Routing (failure-mode classifier)"


def test_a_slice_runs(tmp_path: Path) -> None:
    out = tmp_path / "routing.json"
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text("# Benchmark results\n\n## Other\n\nkept\n")
    args = ["--limit", "3", "--repeat", "1", "--json", str(out), "--results", str(results_md)]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["questions"]["heldout_single"] == 12
    assert 0 <= result["accuracy"] <= 1
    assert result["route_latency_ms"]["p50"] > 0
    assert set(result["ask_latency"]) == {"sql", "graph", "rag", "long_context"}
    text = results_md.read_text()
    assert HEADING in text
    assert "kept" in text


def test_shipped_rows_match_the_example() -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.routing import rows_of

    app = xr.Crossroads.from_example("pharma", audit=xr.AuditLog.memory())
    fit = [q for q in app.example.questions if q.split == "fit"]  # type: ignore[union-attr]
    fresh = rows_of(app, fit)
    shipped = default_rows()
    assert [r.question for r in shipped] == [r["question"] for r in fresh]
    assert [r.route for r in shipped] == [r["route"] for r in fresh]
    for old, new in zip(shipped, fresh, strict=True):
        assert {k: round(v, 6) for k, v in old.features.items() if v} == new["features"], (
            f"{old.question!r}: the shipped row is stale; run benchmarks/routing.py --write-rows"
        )
