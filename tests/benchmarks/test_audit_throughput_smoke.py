"""The audit benchmark runs end to end (``--quick``) and reports every measurement.

It runs as a separate process, as a user would run it: the benchmark registers its own
``bench.echo`` tool, which must not leak into this process's tool registry. No timing
thresholds: only that every number is there and positive.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "audit_throughput.py"

THROUGHPUT = {
    "jsonl_flush": 1,
    "jsonl_fsync": 1,
    "jsonl_group_commit_fsync_1_threads": 1,
    "jsonl_group_commit_fsync_4_threads": 4,
    "jsonl_group_commit_fsync_16_threads": 16,
    "sql_sqlite_file": 1,
}
RUNNER_LOGS = ("memory", "jsonl_flush", "jsonl_fsync")
HEADING = "## Audit throughput (benchmarks/audit_throughput.py)"


def test_quick_run_reports_every_measurement(tmp_path: Path) -> None:
    out = tmp_path / "out" / "audit_throughput.json"
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text(
        "# Benchmark results\n\n## Other benchmark\n\nkept\n\n"
        f"{HEADING}\n\nold numbers\n\n## Later benchmark\n\nalso kept\n"
    )
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out), "--results", str(results_md)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())

    assert results["machine"]["cpu_count"] >= 1
    assert results["machine"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert results["config"] == {"events": 40, "calls": 60, "quick": True}
    assert set(results["throughput"]) == set(THROUGHPUT)
    for name, threads in THROUGHPUT.items():
        run = results["throughput"][name]
        assert run["threads"] == threads, name
        assert run["events"] == 40, name
        assert run["seconds"] > 0, name
        assert run["events_per_s"] > 0, name

    runner = results["runner_overhead"]
    assert set(runner) == {"bare_execute", *RUNNER_LOGS}
    assert runner["bare_execute"]["p50_us"] > 0
    assert runner["bare_execute"]["mean_us"] > 0
    for name in RUNNER_LOGS:
        for key in ("p50_call_us", "mean_call_us", "p50_us", "mean_us"):
            assert runner[name][key] > 0, (name, key)
        assert runner[name]["calls"] == 60

    # the printed table and the RESULTS.md section carry the same rows
    for label in ("JSONL, fsync per event", "SQL sink, SQLite file", "jsonl fsync"):
        assert label in done.stdout
    text = results_md.read_text()  # our section replaced, the others untouched
    assert text.startswith("# Benchmark results\n\n## Other benchmark\n\nkept\n\n" + HEADING)
    assert text.endswith("```\n\n## Later benchmark\n\nalso kept\n")
    assert text.count(HEADING) == 1
    assert "old numbers" not in text
    assert "python benchmarks/audit_throughput.py --quick" in text
    assert "| JSONL, group commit + fsync, 16 threads | 16 | 40 |" in text
