"""The SQL attack suite runs end to end on a tiny slice and reports every class.

It runs as a separate process, as a user would run it, on two payload files written
here (so the test needs no data outside the repository) and a few own-case categories.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sql_attacks.py"
HEADING = "## SQL attack suite (benchmarks/sql_attacks.py)"
PAYLOADS = {
    # a comment line, a quote-breaking OR, a stacked write, a union of an ungranted table
    "inject.txt": "# written for this test\n' OR '1'='1\n'; DROP TABLE users --\n"
    "' UNION SELECT id, token, token FROM secrets --\n",
    # CRLF line endings, as one of the real files has
    "crlf.txt": "1 AND 1=1\r\n; DELETE FROM orders\r\n",
}
OWN = ("stacked", "system_table", "recursive_cte", "write")


def test_tiny_slice_reports_every_input(tmp_path: Path) -> None:
    data = tmp_path / "payloads"
    data.mkdir()
    for name, content in PAYLOADS.items():
        (data / name).write_bytes(content.encode())
    out = tmp_path / "out" / "sql_attacks.json"
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text(
        "# Benchmark results\n\n## Other benchmark\n\nkept\n\n"
        f"{HEADING}\n\nold numbers\n\n## Later benchmark\n\nalso kept\n"
    )
    done = subprocess.run(
        [
            sys.executable, str(SCRIPT), "--data", str(data), "--quick", "--timeout", "0.5",
            "--own", ",".join(OWN), "--out", str(out), "--results", str(results_md),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    summary = results["summary"]

    # 5 payload lines (the comment skipped), each three ways, plus the own cases
    assert summary["payload_inputs"] == 15
    assert set(summary["by_file"]) == set(PAYLOADS)
    own = [c for c in results["cases"] if c["source"] == "own"]
    assert {c["category"] for c in own} == set(OWN)
    assert sum(summary["total"].values()) == 15 + len(own) == len(results["cases"])
    assert summary["total"]["breach"] == 0, summary["breaches"]
    assert summary["calls_fully_audited"] == len(results["cases"])
    assert all(chain["ok"] for chain in summary["audit_chains"].values())
    assert summary["database_unchanged"] is True

    def outcome(source: str, line: int, use: str) -> str:
        (case,) = (
            c
            for c in results["cases"]
            if c["source"] == source and c.get("line") == line and c.get("use") == use
        )
        assert "sql" not in case  # payload text is never written out
        return str(case["class"])

    assert outcome("inject.txt", 2, "where") == "harmless"  # filtered and masked
    assert outcome("inject.txt", 3, "where") == "refused"  # the stacked DROP
    assert outcome("inject.txt", 4, "where") == "refused"  # secrets has no grant
    assert outcome("crlf.txt", 1, "append") == "harmless"  # WHERE id = 11 AND 1=1
    assert outcome("crlf.txt", 2, "append") == "refused"
    assert {c["class"] for c in own if c["category"] == "system_table"} == {"refused"}
    assert any(c["detail"].startswith("SQLTimeout") for c in own)  # a bomb was stopped

    # the printed tables and the RESULTS.md section; other sections untouched
    assert "| payload file (× 3 uses) | inputs | refused | stopped | harmless | breach |" in (
        done.stdout
    )
    text = results_md.read_text()
    assert text.startswith("# Benchmark results\n\n## Other benchmark\n\nkept\n\n" + HEADING)
    assert text.endswith("```\n\n## Later benchmark\n\nalso kept\n")
    assert text.count(HEADING) == 1
    assert "old numbers" not in text
    assert "| inject.txt | 9 |" in text
    assert "No breaches." in text
