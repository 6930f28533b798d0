"""The README documents every CLI command, and its Quick start matches .ci/run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crossroads.cli import _parser

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def _commands() -> list[str]:
    out = []
    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, child in sub.choices.items():  # type: ignore[union-attr]
        nested = [
            a for a in child._actions if getattr(a, "choices", None) and a.dest.endswith("_command")
        ]
        if nested:
            out += [f"crossroads {name} {n}" for n in nested[0].choices]  # type: ignore[union-attr]
        else:
            out.append(f"crossroads {name}")
    return out


def test_every_cli_command_is_in_the_readme() -> None:
    missing = [c for c in _commands() if c not in README]
    assert not missing, f"commands not documented in README.md: {missing}"


def test_quick_start_has_the_two_setup_blocks_and_ci_runs_the_second() -> None:
    quick = README.split("## Quick start", 1)[1]
    blocks = re.findall(r"```sh\n(.*?)```", quick, flags=re.S)
    assert len(blocks) >= 2
    demo, tests = blocks[0].strip(), blocks[1].strip()
    assert "crossroads demo" in demo
    assert "pytest" in tests
    assert tests in (ROOT / ".ci" / "run").read_text()


def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Python block of the README runs as written (the model call itself excepted:
    it would need a live provider)."""
    from crossroads.cli import main

    monkeypatch.chdir(tmp_path)
    yaml_block = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)[0]
    (tmp_path / "policy.yaml").write_text(yaml_block)
    assert main(["demo", "--sql", "--dir", "demo"]) == 0
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 3
    namespace: dict[str, object] = {}  # the blocks build on each other, top to bottom
    for block in blocks:
        code = "\n".join(line for line in block.splitlines() if ".complete(" not in line)
        exec(compile(code, "README.md", "exec"), namespace)
