"""The public-data routing benchmark runs end to end on a slice (3 questions a source)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "routing_public.py"
DATA = ROOT.parent / "shared" / "bench"


@pytest.mark.skipif(
    not (DATA / "metaqa" / "kb.txt").exists() or not (DATA / "beir-scifact").exists(),
    reason=f"no MetaQA / SciFact / Spider data under {DATA}",
)
def test_a_slice_runs(tmp_path: Path) -> None:
    out = tmp_path / "public.json"
    args = ["--limit", "3", "--work", str(tmp_path / "work"), "--json", str(out)]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["questions"] == 15
    assert set(result["by_source"]) == {
        "spider", "metaqa-1hop", "metaqa-2hop", "metaqa-3hop", "scifact"
    }  # fmt: skip
    assert result["graph"]["nodes"] > 40_000
    assert result["route_latency_ms"]["p50"] > 0
