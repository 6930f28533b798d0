"""The command line, run in-process through ``main`` (exit codes and output)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossroads._demo import DEMO_POLICY, build_demo_database
from crossroads.audit import AuditLog
from crossroads.cli import main
from crossroads.policy import Principal


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, durability="flush")
    alice = Principal("alice", groups=["g"])
    with log.span("tool", "sql.query", alice, input={"sql": "SELECT 1"}) as span:
        span.decide(allowed=True, reason="SELECT on table:t")
        with log.span("llm", "openai:m", alice) as inner:
            inner.end(tokens={"prompt": 3, "completion": 2, "total": 5})
    log.close()
    return path


def test_verify_intact_exits_0(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", str(log_path)]) == 0
    assert "OK: 5 events" in capsys.readouterr().out


def test_verify_tampered_exits_1_with_the_first_bad_event(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = log_path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace('"stage":"start"', '"stage":"end"')
    log_path.write_text("".join(lines))
    assert main(["audit", "verify", str(log_path)]) == 1
    out = capsys.readouterr().out
    assert "BROKEN at line 3" in out
    assert json.loads(lines[2])["event_id"] in out


def test_verify_torn_tail_suggests_repair(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open(log_path, "a") as fh:
        fh.write('{"event_id": "half')
    assert main(["audit", "verify", str(log_path)]) == 1
    out = capsys.readouterr().out
    assert "incomplete last line" in out
    assert "crossroads audit repair" in out
    assert main(["audit", "repair", str(log_path)]) == 0
    assert "moved 18 torn bytes" in capsys.readouterr().out
    assert main(["audit", "verify", str(log_path)]) == 0
    assert "audit.recovered" in log_path.read_text().splitlines()[-1]
    assert (log_path.parent / "audit.jsonl.torn").exists()


def test_tail_prints_the_last_events(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "tail", str(log_path), "-n", "2"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2
    assert "#4" in out[0]
    assert "5 tokens" in out[0]
    assert main(["audit", "tail", str(log_path), "-n", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seq"] == 5


def test_show_prints_the_trace_as_a_tree(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = json.loads(log_path.read_text().splitlines()[0])["trace_id"]
    assert main(["audit", "show", str(log_path), trace[:8]]) == 0
    out = capsys.readouterr().out
    assert "└ tool sql.query" in out
    assert "  └ llm openai:m" in out
    assert "ALLOW SELECT on table:t" in out
    assert main(["audit", "show", str(log_path), "feedface"]) == 1


def test_missing_log_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", str(tmp_path / "nope.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_policy_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "policy.yaml"
    good.write_text(DEMO_POLICY)
    assert main(["policy", "check", str(good)]) == 0
    assert "4 principals" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ngrants:\n  - {to: 'group:a', privilege: SELECT, onn: 'table:x'}\n")
    assert main(["policy", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:3" in err


@pytest.fixture
def demo_files(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "pharma.sqlite"
    build_demo_database(db)
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEMO_POLICY)
    return db, policy


def test_sql_runs_as_a_principal(
    demo_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, policy = demo_files
    audit = tmp_path / "a.jsonl"
    args = ["sql", "--policy", str(policy), "--db", f"sqlite:///{db}", "--audit", str(audit)]
    sql = "SELECT region, COUNT(*) AS n FROM patients GROUP BY region"
    assert main([*args, "--as", "alice", sql]) == 0
    out = capsys.readouterr().out
    assert "WHERE region = 'EU'" in out
    assert "EU" in out
    assert "APAC" not in out.split("ran:")[1].split("\n", 1)[1]
    assert main([*args, "--as", "bob", sql]) == 3
    assert "DENIED: no grant gives SELECT on table:patients" in capsys.readouterr().err
    assert main([*args, "--as", "alice", "--explain", "SELECT ssn FROM patients"]) == 0
    assert "'***-**-'" in capsys.readouterr().out
    assert main(["audit", "verify", str(audit)]) == 0


def test_sql_unknown_principal_is_an_error(
    demo_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, policy = demo_files
    code = main(
        ["sql", "--policy", str(policy), "--db", f"sqlite:///{db}", "--as", "alcie", "SELECT 1"]
    )
    assert code == 2
    assert "alice" in capsys.readouterr().err  # the did-you-mean hint


def test_demo_runs_offline_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--sql", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "DENIED [default deny]" in out
    assert "DENIED [sql.read_only]" in out
    assert "masked patients.ssn" in out
    assert "OK:" in out
    assert "hash chain intact" in out


def test_verify_with_an_anchor_detects_truncation(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", str(log_path)]) == 0
    anchor = capsys.readouterr().out.strip().rsplit("last hash ", 1)[1]
    assert main(["audit", "verify", str(log_path), "--anchor", anchor]) == 0
    capsys.readouterr()
    lines = log_path.read_text().splitlines(keepends=True)
    log_path.write_text("".join(lines[:-1]))  # cut at a line boundary: the chain still links
    assert main(["audit", "verify", str(log_path)]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", str(log_path), "--anchor", anchor]) == 1
    assert "no event carries the anchor hash" in capsys.readouterr().out
