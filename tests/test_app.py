"""The facade over the shipped pharma example: build, route, ask, governance, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import crossroads as xr
from crossroads._examples import load_example
from crossroads.cli import main
from crossroads.errors import ConfigError


@pytest.fixture(scope="module")
def pharma() -> xr.Crossroads:
    return xr.Crossroads.from_example("pharma", audit=xr.AuditLog.memory())


def test_example_meets_its_sizes(pharma: xr.Crossroads) -> None:
    example = pharma.example
    assert example is not None
    assert sum(1 for _ in example.questions) >= 200
    assert {q.split for q in example.questions} == {"fit", "heldout"}
    assert {q.route for q in example.questions} >= {"sql", "graph", "rag", "long_context"}
    assert pharma.graph is not None
    assert sum(1 for _ in pharma.graph.graph.nodes()) >= 500
    assert pharma.rag is not None
    assert pharma.rag.index.document_count >= 100
    assert len(pharma.catalog.principals) >= 4


def test_the_build_is_cached_and_never_overwrites_a_foreign_folder(tmp_path: Path) -> None:
    first = load_example("pharma", directory=tmp_path / "p")
    stamp = (first.directory / ".built").read_text()
    again = load_example("pharma", directory=tmp_path / "p")
    assert again.directory == first.directory
    assert (again.directory / ".built").read_text() == stamp
    (first.directory / ".built").unlink()  # no stamp: not ours to replace
    with pytest.raises(ConfigError, match="not empty"):
        load_example("pharma", directory=tmp_path / "p")
    assert (first.directory / "pharma.sqlite").is_file()
    (tmp_path / "empty").mkdir()
    assert (load_example("pharma", directory=tmp_path / "empty").directory / ".built").is_file()


def test_unknown_example_says_which_exist() -> None:
    with pytest.raises(ConfigError, match="pharma"):
        xr.Crossroads.from_example("nope")


@pytest.mark.parametrize(
    ("who", "question", "route"),
    [
        ("alice", "How many serious adverse events were reported in Germany in 2024?", "sql"),
        ("alice", "Which drugs inhibit the enzymes that metabolise Cardiozen?", "graph"),
        ("alice", "What is the recommended Cardiozen dose in renal impairment according to "
         "the EU label?", "rag"),
        ("carol", "List every SOP's owner.", "long_context"),
    ],
)  # fmt: skip
def test_one_question_per_route(pharma: xr.Crossroads, who: str, question: str, route: str) -> None:
    answer = pharma.ask(question, principal=pharma.principal(who))
    assert answer.answered
    assert answer.route == route
    assert answer.decision is not None
    assert answer.decision.route == route
    assert answer.sources


def test_same_question_three_principals(pharma: xr.Crossroads) -> None:
    q = "How many adverse events were reported for Cardiozen in 2024?"
    alice = pharma.ask(q, principal=pharma.principal("alice"))
    carol = pharma.ask(q, principal=pharma.principal("carol"))
    bob = pharma.ask(q, principal=pharma.principal("bob"))
    eu = alice.result.result.rows[0][0]
    everyone = carol.result.result.rows[0][0]
    assert 0 < eu < everyone
    assert any("region" in g for g in alice.governance)
    assert not bob.answered  # no grant on adverse events; no route pretends otherwise
    assert bob.fallbacks[0].route == "sql"
    assert "adverse" in bob.fallbacks[0].reason


def test_masked_identifier_stays_masked(pharma: xr.Crossroads) -> None:
    q = "List the ssn of patients born before 1950"
    alice = pharma.ask(q, principal=pharma.principal("alice"))
    assert alice.route == "sql"
    assert alice.answered
    assert "patients.ssn masked" in alice.governance
    assert all(str(row[-1]).startswith("***-**-") for row in alice.result.result.rows)
    carol = pharma.ask(q, principal=pharma.principal("carol"))  # pharmacovigilance: exempt
    assert "patients.ssn masked" not in carol.governance
    assert not any(str(row[-1]).startswith("***") for row in carol.result.result.rows)


def test_cli_ask_and_route_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audit = str(tmp_path / "a.jsonl")
    q = "Which drugs inhibit the enzymes that metabolise Cardiozen?"
    assert main(["route", q, "--as", "alice", "--json", "--audit", audit]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["route"] == "graph"
    assert set(decision["scores"]) == {"sql", "graph", "rag", "long_context"}
    assert main(["ask", q, "--as", "alice", "--json", "--audit", audit]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["route"] == "graph"
    assert answer["sources"]
    assert main(["audit", "show", audit, answer["trace_id"][:12]]) == 0
    assert "router.ask" in capsys.readouterr().out
    assert main(["ask", q, "--as", "nobody", "--audit", audit]) == 2
    assert "nobody" in capsys.readouterr().err


def test_demo_tour(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for route in ("route  sql", "route  graph", "route  rag", "route  long_context"):
        assert route in out
    assert "fell back from sql" in out  # bob
    assert "hash chain intact" in out
