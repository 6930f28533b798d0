"""What the SQL benchmarks share: machine facts, percentiles, and their RESULTS.md section."""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCH = REPO.parent / "shared" / "bench"


def machine() -> dict[str, Any]:
    """Facts that make the numbers comparable."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def sqlglot_info() -> dict[str, Any]:
    """sqlglot's version, and whether its mypyc-compiled modules (``sqlglotc``) are in use."""
    import sqlglot.parser

    try:
        compiled_pkg: str | None = importlib.metadata.version("sqlglotc")
    except importlib.metadata.PackageNotFoundError:
        compiled_pkg = None
    return {
        "version": importlib.metadata.version("sqlglot"),
        "sqlglotc": compiled_pkg,
        "compiled": not str(sqlglot.parser.__file__).endswith(".py"),
    }


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by the nearest-rank method."""
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def update_results(path: Path, heading: str, section: str) -> None:
    """Replace (or add) the section under ``heading`` in RESULTS.md, leaving the rest alone."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        body = text if text.endswith("\n") else text + "\n"
        path.write_text(f"{body}\n{section}")
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    after = "".join(lines[end:])
    path.write_text("".join(lines[:start]) + section + ("\n" + after if after else ""))


def md_escape(text: str, limit: int = 160) -> str:
    """``text`` on one line, cut to ``limit`` characters, safe inside a Markdown table cell."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat.replace("|", "\\|")


def publish(result: dict[str, Any], text: str, *, heading: str, json_path: Path | None,
            results: Path | None) -> None:  # fmt: skip
    """Print the summary, write the JSON result and update the RESULTS.md section."""
    import json

    print(text)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if results:
        update_results(results, heading, f"{heading}\n\n{text}")
