"""The chat agent: follow-up resolution, multi-turn context, commands, persistence, CLI."""

from __future__ import annotations

import argparse
import io
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

import crossroads as xr
from crossroads.agents import LabelledRow, RouteModel
from crossroads.agents._chat import ChatAgent, ChatReply
from crossroads.agents._chat_cli import main as chat_main
from crossroads.agents._chat_cli import register
from crossroads.agents._followup import (
    TypedSpan,
    data_kinds,
    expand_principal_refs,
    resolve_followup,
)
from crossroads.connectors import DocumentIndex, NetworkXGraph, SQLDatabase
from crossroads.errors import ConfigError

# --- resolve_followup: a table of cases -------------------------------------------------------

_KNOWN = {
    "Germany": "country",
    "France": "country",
    "Italy": "country",
    "United States": "country",
    "EU": "region",
    "US": "region",
    "Cardiozen": "product",
    "Neurovia": "product",
    "severe": "severity",
    "mild": "severity",
}


def toy_kinds(text: str) -> list[TypedSpan]:
    """Known values, each of one kind (what :func:`data_kinds` finds on real data)."""
    return [
        TypedSpan(m.start(), m.end(), frozenset({kind}))
        for value, kind in _KNOWN.items()
        for m in re.finditer(rf"\b{re.escape(value)}\b", text)
    ]


Q_COUNTRY = "How many adverse events were reported in Germany?"
Q_YEAR = "How many adverse events were reported in Germany in 2024?"
Q_GRAPH = "Which drugs inhibit the enzyme that metabolises Cardiozen?"
Q_DOCS = "What does the label say about dosing?"

CASES = [
    # (previous, message, expected resolution or None)
    (Q_COUNTRY, "and in France?", "How many adverse events were reported in France?"),
    (Q_COUNTRY, "what about France?", "How many adverse events were reported in France?"),
    (Q_COUNTRY, "France?", "How many adverse events were reported in France?"),
    (Q_COUNTRY, "And in the United States?",
     "How many adverse events were reported in the United States?"),
    (Q_YEAR, "what about 2023?", "How many adverse events were reported in Germany in 2023?"),
    (Q_YEAR, "and France in 2023?", "How many adverse events were reported in France in 2023?"),
    (Q_COUNTRY, "what about 2023?", "How many adverse events were reported in Germany in 2023?"),
    (Q_COUNTRY, "how about in 2023 instead?",
     "How many adverse events were reported in Germany in 2023?"),
    (Q_GRAPH, "and for Neurovia?", "Which drugs inhibit the enzyme that metabolises Neurovia?"),
    (Q_GRAPH, "same for Neurovia", "Which drugs inhibit the enzyme that metabolises Neurovia?"),
    (Q_COUNTRY, "and for Cardiozen?",
     "How many adverse events were reported in Germany for Cardiozen?"),
    (Q_COUNTRY, "same for US", "How many adverse events were reported in Germany for US?"),
    (Q_DOCS, "and in pregnancy?", "What does the label say about dosing in pregnancy?"),
    (Q_DOCS, "what about children", "What does the label say about dosing for children?"),
    (Q_YEAR, "and France, too", "How many adverse events were reported in France in 2024?"),
    ("How many severe adverse events were reported in Germany?", "and mild ones in Italy?",
     "How many mild adverse events were reported in Italy?"),
    # not follow-ups: questions of their own, or nothing to resolve
    (Q_COUNTRY, "How many adverse events were reported in France?", None),
    (Q_COUNTRY, "and which drugs inhibit CYP3A4?", None),
    (Q_COUNTRY, "Thanks!", None),
    (Q_COUNTRY, "What does the label say about dosing?", None),
    (Q_COUNTRY, "and?", None),
    ("", "and in France?", None),
]  # fmt: skip


@pytest.mark.parametrize(("previous", "message", "expected"), CASES)
def test_resolve_followup(previous: str, message: str, expected: str | None) -> None:
    assert resolve_followup(previous, message, toy_kinds) == expected


def test_a_resolution_resolves_again() -> None:
    first = resolve_followup(Q_YEAR, "and in France?", toy_kinds)
    assert first == "How many adverse events were reported in France in 2024?"
    assert resolve_followup(first, "what about 2023?", toy_kinds) == (
        "How many adverse events were reported in France in 2023?"
    )


def test_principal_references_expand_to_attribute_values() -> None:
    alice = xr.Principal("alice", attributes={"region": "EU"})
    bob = xr.Principal("bob", attributes={"region": "US", "tags": ["a", "b"]})
    known = {"alice": alice, "bob": bob}
    assert expand_principal_refs("and in my region?", known, bob) == "and in US?"
    assert expand_principal_refs("same for bob's region", known, bob) == "same for US"
    # another principal's attributes are not the asker's to learn
    assert expand_principal_refs("same for bob's region", known, alice) == "same for bob's region"
    # unknown principals, unknown or non-scalar attributes: untouched
    assert expand_principal_refs("zed's region", known, alice) == "zed's region"
    assert expand_principal_refs("bob's tags", known, alice) == "bob's tags"
    assert expand_principal_refs("the label's text", known, alice) == "the label's text"


# --- a small app --------------------------------------------------------------------------------

POLICY = """\
version: 1
principals:
  alice: {groups: [eu_medical_info], attributes: {region: EU}}
  bob:   {groups: [us_medical_info], attributes: {region: US}}
  carol: {groups: [pv_officer, global], attributes: {region: EU}}
grants:
  - {to: "group:eu_medical_info", privilege: SELECT, on: "table:*"}
  - {to: "group:us_medical_info", privilege: SELECT, on: "table:*"}
  - {to: "group:pv_officer", privilege: SELECT, on: "table:*"}
row_filters:
  - {on: "table:adverse_events", where: "region = :region", except: ["group:global"]}
  - {on: "table:patients", where: "region = :region", except: ["group:global"]}
column_masks:
  - {on: "column:patients.ssn", mask: "'***-**-' || SUBSTR(ssn, -4)", except: ["group:pv_officer"]}
documents:
  - {to: "*", on: "collection:labels"}
  - {to: "*", on: "collection:default"}
graph:
  - {to: "*", on: "graph:default"}
"""

TRIPLES = [
    ("Cardiozen", "metabolised_by", "CYP3A4"),
    ("ketoconazole", "inhibits", "CYP3A4"),
    ("Neurovia", "metabolised_by", "CYP2D6"),
    ("quinidine", "inhibits", "CYP2D6"),
]
LABEL = "## Dosing\nIn renal impairment reduce the Cardiozen dose to 5 mg daily."

Q_GERMANY = "How many adverse events were reported in Germany?"
Q_PATIENTS = "List the name and ssn of patients"


def _database(path: Path) -> None:
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE adverse_events (
            id INTEGER PRIMARY KEY, product_id INTEGER REFERENCES products(id),
            country TEXT, region TEXT, year INTEGER, severity TEXT);
        CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT, ssn TEXT, region TEXT);
        INSERT INTO products VALUES (1, 'Cardiozen'), (2, 'Neurovia');
        INSERT INTO patients VALUES (1, 'Anna Weber', '123-45-6789', 'EU'),
                                    (2, 'Ben Smith', '987-65-4321', 'US');
        """
    )
    rows, i = [], 0
    for country, region, n24, n23 in [
        ("Germany", "EU", 5, 3),
        ("France", "EU", 2, 4),
        ("United States", "US", 7, 1),
    ]:
        for year, n in ((2024, n24), (2023, n23)):
            for k in range(n):
                i += 1
                rows.append((i, 1 + i % 2, country, region, year, "severe" if k % 3 else "mild"))
    con.executemany("INSERT INTO adverse_events VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("chat")
    _database(d / "db.sqlite")
    (d / "policy.yaml").write_text(POLICY)
    (d / "kg.txt").write_text("".join(f"{s}|{r}|{o}\n" for s, r, o in TRIPLES))
    record = {"_id": "lbl1", "title": "Cardiozen label", "text": LABEL.replace("\n", " ")}
    (d / "docs.jsonl").write_text(json.dumps(record) + "\n")
    return d


def _model() -> RouteModel:
    model = RouteModel()
    model.fit(
        [
            LabelledRow({"bias": 1, "cue.aggregate": 1, "sql.any": 1, "q.how_many": 1}, "sql"),
            LabelledRow(
                {"bias": 1, "graph.entities": 0.7, "graph.relations": 0.7, "q.which_who": 1},
                "graph",
            ),
            LabelledRow({"bias": 1, "docs.coverage": 0.8, "docs.cue": 0.7}, "rag"),
            LabelledRow(
                {"bias": 1, "holistic.cue": 1, "holistic.fits": 1, "corpus.fits": 1},
                "long_context",
            ),
        ]
    )
    return model


@pytest.fixture(scope="module")
def app(data_dir: Path) -> Iterator[xr.Crossroads]:
    graph = NetworkXGraph()
    for s, r, o in TRIPLES:
        graph.add_edge(s, r, o)
    index = DocumentIndex()
    index.add("lbl1", LABEL, collection="labels")
    db = SQLDatabase(f"sqlite:///{data_dir / 'db.sqlite'}")
    yield xr.Crossroads(
        catalog=xr.Catalog.from_yaml(data_dir / "policy.yaml"),
        sql=db,
        graph=graph,
        documents=index,
        audit=xr.AuditLog.memory(),
        model=_model(),
    )
    db.close()


# --- the agent ----------------------------------------------------------------------------------


def test_follow_ups_reuse_the_previous_question(app: xr.Crossroads) -> None:
    agent = ChatAgent(app, "alice")
    first = agent.send(Q_GERMANY)
    assert first.answer is not None
    assert first.answer.route == "sql"
    assert not first.rewritten
    assert first.resolved_question == Q_GERMANY
    assert "The answer is 8." in first.text

    second = agent.send("and in France?")
    assert second.resolved_question == "How many adverse events were reported in France?"
    assert second.text.startswith("→ reading as: How many adverse events were reported in France?")
    assert "The answer is 6." in second.text

    third = agent.send("what about 2023?")
    assert third.resolved_question == "How many adverse events were reported in France in 2023?"
    assert "The answer is 4." in third.text
    assert third.answer is not None
    ran = third.answer.result.sql  # the route's own answer: SQLAnswer
    assert "'France'" in ran
    assert "2023" in ran

    graph = agent.send("Which drugs inhibit the enzyme that metabolises Cardiozen?")
    assert graph.answer is not None
    assert graph.answer.route == "graph"
    again = agent.send("and for Neurovia?")
    assert again.resolved_question == "Which drugs inhibit the enzyme that metabolises Neurovia?"
    assert again.text.splitlines()[1] == "quinidine."
    assert [t["question"] for t in agent.history][-1] == "and for Neurovia?"
    assert len(agent.history) == 5


def test_an_answer_shows_route_sources_and_governance(app: xr.Crossroads) -> None:
    reply = ChatAgent(app, "alice").send(Q_GERMANY)
    lines = reply.text.splitlines()
    assert any(line.startswith("route: sql (structured, confidence") for line in lines)
    assert "sources (1):" in lines
    assert any(line.startswith("  sql: SELECT COUNT(*)") for line in lines)
    assert "governance for alice:" in lines
    assert "  - rows of adverse_events limited by the row filter region = 'EU'" in lines


def test_follow_up_kinds_only_know_what_the_principal_may_see(app: xr.Crossroads) -> None:
    """'United States' is a country value, but not one alice's row filter lets her see:
    for her it is no value of that kind, so it is appended, never substituted."""
    alice, carol = app.principal("alice"), app.principal("carol")
    previous = "How many adverse events were reported in France?"
    as_alice = data_kinds(sql=app.sql, graph=app.graph, principal=alice)
    as_carol = data_kinds(sql=app.sql, graph=app.graph, principal=carol)
    assert resolve_followup(previous, "and United States?", as_carol) == (
        "How many adverse events were reported in United States?"
    )
    assert resolve_followup(previous, "and United States?", as_alice) == (
        "How many adverse events were reported in France for United States?"
    )
    spans = as_alice("Which drugs inhibit the enzyme that metabolises Cardiozen?")
    assert [s.kinds for s in spans] == [frozenset({"sql:products.name", "graph:node"})]


def test_switching_principal_changes_governance(app: xr.Crossroads) -> None:
    agent = ChatAgent(app, "alice")
    masked = agent.send(Q_PATIENTS)
    assert "***-**-6789" in masked.text
    assert "Ben Smith" not in masked.text
    assert "  - patients.ssn masked" in masked.text.splitlines()

    switched = agent.send("/as carol")
    assert switched.command == "/as"
    assert switched.answer is None
    assert switched.text == "now asking as carol (groups: pv_officer, global; region=EU)"
    clear = agent.send(Q_PATIENTS)
    assert "123-45-6789" in clear.text
    assert "Ben Smith" in clear.text
    assert "governance for carol: nothing withheld or changed" in clear.text
    assert [t["principal"] for t in agent.history] == ["alice", "carol"]


def test_unknown_principal_lists_the_known_ones(app: xr.Crossroads) -> None:
    agent = ChatAgent(app, "alice")
    reply = agent.send("/as zed")
    assert (
        reply.text
        == "error: no principal 'zed' in the catalog; known principals: alice, bob, carol"
    )
    assert isinstance(reply.error, ConfigError)
    assert agent.principal.id == "alice"
    assert agent.send("/as").text.startswith("usage: /as PRINCIPAL (asking as alice; known: alice")
    with pytest.raises(ConfigError, match="no principal 'zed'"):
        ChatAgent(app, "zed")


def test_why_sources_and_audit(app: xr.Crossroads) -> None:
    agent = ChatAgent(app, "alice")
    assert agent.send("/why").text == (
        "error: alice has asked nothing yet in this conversation; ask a question"
    )
    answer = agent.send(Q_GERMANY).answer
    assert answer is not None

    why = agent.send("/why").text.splitlines()
    assert why[0] == f"question: {Q_GERMANY}"
    assert why[1].startswith("route: sql (structured), confidence")
    assert why[2].startswith("runner-up: ")
    assert "scores:" in why
    assert any(line.startswith("  sql           0.") for line in why)
    assert "reasons:" in why
    assert "  - aggregation cue (count)" in why
    assert "signals:" in why
    assert '  sql.values: ["Germany → adverse_events.country"]' in why

    sources = agent.send("/sources").text.splitlines()
    assert sources[0] == f"sources of the answer to {Q_GERMANY!r}:"
    assert sources[1].startswith("- sql: SELECT COUNT(*)")
    assert "'Germany'" in sources[1]

    audit = agent.send("/audit").text.splitlines()
    assert audit[0].startswith(f"trace {answer.trace_id} (")
    assert audit[0].endswith("by alice)")
    assert audit[1] == "└ route router.ask"
    assert "  └ tool sql.ask" in audit
    assert any("sql after governance:" in line and "region = 'EU'" in line for line in audit)


def test_help_unknown_command_quit_and_empty(app: xr.Crossroads) -> None:
    agent = ChatAgent(app, "alice")
    assert "/as PRINCIPAL" in agent.send("/help").text
    assert agent.send("/frobnicate").text.startswith("unknown command /frobnicate; the commands")
    bye = agent.send("/quit")
    assert bye == ChatReply(message="/quit", text="bye", command="/quit", done=True)
    assert agent.send("/exit").done
    assert agent.send("   ").answer is None
    assert agent.history == []


def test_a_bad_question_is_one_line_and_the_conversation_continues(app: xr.Crossroads) -> None:
    agent = ChatAgent(app, "alice")
    agent.send(Q_GERMANY)
    reply = agent.send("x" * 5000)
    assert reply.text == "error: the question is 5,000 characters; the limit is 4,000"
    assert isinstance(reply.error, ConfigError)
    assert agent.send("and in France?").resolved_question == (
        "How many adverse events were reported in France?"
    )


def test_a_saved_conversation_is_continued_by_a_new_agent(
    app: xr.Crossroads, tmp_path: Path
) -> None:
    path = tmp_path / "chat.sqlite"
    with sqlite3.connect(path, check_same_thread=False) as con:
        first = ChatAgent(app, "alice", checkpointer=SqliteSaver(con), thread_id="t1")
        first.send(Q_GERMANY)
        first.send("and in France?")
    con.close()
    with sqlite3.connect(path, check_same_thread=False) as con:
        later = ChatAgent(app, "alice", checkpointer=SqliteSaver(con), thread_id="t1")
        assert [t["resolved_question"] for t in later.history] == [
            Q_GERMANY,
            "How many adverse events were reported in France?",
        ]
        assert later.last_answer is None
        assert later.send("/why").text.startswith(
            "question: How many adverse events were reported in France?"
        )
        assert later.send("what about 2023?").resolved_question == (
            "How many adverse events were reported in France in 2023?"
        )
        other = ChatAgent(app, "alice", checkpointer=SqliteSaver(con), thread_id="t2")
        assert other.history == []
    con.close()


# --- the CLI ------------------------------------------------------------------------------------


def _cli_args(data_dir: Path, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--policy",
        str(data_dir / "policy.yaml"),
        "--db",
        f"sqlite:///{data_dir / 'db.sqlite'}",
        "--graph",
        str(data_dir / "kg.txt"),
        "--docs",
        str(data_dir / "docs.jsonl"),
        "--audit",
        str(tmp_path / "audit.jsonl"),
        "--checkpoint",
        str(tmp_path / "chat.sqlite"),
        *extra,
    ]


def _chat(args: list[str], script: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = chat_main(args, stdin=io.StringIO(script), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_with_piped_input(data_dir: Path, tmp_path: Path) -> None:
    script = f"{Q_GERMANY}\nand in France?\n/why\n/as nobody\n/nope\n/quit\nnever read\n"
    code, out, err = _chat(_cli_args(data_dir, tmp_path, "--as", "alice"), script)
    assert code == 0
    assert "\033[" not in out
    assert "Traceback" not in out + err
    lines = out.splitlines()
    assert lines[0] == f"> {Q_GERMANY}"
    assert "> and in France?" in lines
    assert "→ reading as: How many adverse events were reported in France?" in lines
    assert "The answer is 6." in lines
    assert f"question: {'How many adverse events were reported in France?'}" in lines
    assert any(line.startswith("error: no principal 'nobody'") for line in lines)
    assert any(line.startswith("unknown command /nope") for line in lines)
    assert "bye" in lines
    assert "never read" not in out
    assert err.startswith("new thread ")
    # the same script gives the same transcript
    assert _chat(_cli_args(data_dir, tmp_path, "--as", "alice"), script)[1] == out


def test_cli_continues_a_thread(data_dir: Path, tmp_path: Path) -> None:
    args = _cli_args(data_dir, tmp_path, "--as", "alice", "--thread", "case-7")
    _chat(args, f"{Q_GERMANY}\n")  # ends at end of input
    code, out, err = _chat(args, "and in France?\n")
    assert code == 0
    assert err.startswith("continuing thread case-7 (1 earlier turns)")
    assert "→ reading as: How many adverse events were reported in France?" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as", "alice", "--db", "x"], "error: --db, --graph and --docs need --policy"),
        (["--as", "alice", "--example", "pharma", "--db", "x"], "error: --db, --graph and"),
        (["--as", "alice", "--policy", "p.yaml"], "error: --policy needs at least one of"),
    ],
)
def test_cli_setup_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    code, out, err = _chat([*args, "--checkpoint", str(tmp_path / "c.sqlite")], "")
    assert code == 2
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_cli_unknown_principal_at_start(data_dir: Path, tmp_path: Path) -> None:
    code, _, err = _chat(_cli_args(data_dir, tmp_path, "--as", "zed"), "")
    assert code == 2
    assert err == "error: no principal 'zed' in the catalog; known principals: alice, bob, carol\n"


def test_register_adds_the_chat_subcommand() -> None:
    parser = argparse.ArgumentParser(prog="crossroads")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["chat", "--example", "pharma", "--as", "alice"])
    assert args.example == "pharma"
    assert args.principal == "alice"
    assert args.checkpoint == ".crossroads/chat.sqlite"
    assert args.thread is None
    assert callable(args.func)


def test_cli_as_a_process(data_dir: Path, tmp_path: Path) -> None:
    """Piped into a real process: no prompt, no colour, no traceback."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "crossroads.agents._chat_cli",
            *_cli_args(data_dir, tmp_path),
            "--as",
            "alice",
        ],
        input=f"{Q_GERMANY}\n/sources\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"> {Q_GERMANY}\n")
    assert "> /sources" in proc.stdout
    assert "- sql: SELECT COUNT(*)" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(
    not (Path(__file__).parents[2] / "examples" / "pharma" / "policy.yaml").exists(),
    reason="the pharma example is not generated yet",
)
def test_cli_over_the_pharma_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's script: `printf '…' | crossroads chat --example pharma --as alice`."""
    monkeypatch.setenv("CROSSROADS_CACHE", str(tmp_path / "cache"))
    script = (
        "How many adverse events were reported in Germany in 2024?\n"
        "and in France?\nwhat about 2023?\n/why\n/quit\n"
    )
    args = ["--example", "pharma", "--as", "alice", "--audit", str(tmp_path / "audit.jsonl")]
    code, out, err = _chat([*args, "--checkpoint", str(tmp_path / "chat.sqlite")], script)
    assert code == 0, err
    lines = out.splitlines()
    assert "→ reading as: How many adverse events were reported in France in 2024?" in lines
    assert "→ reading as: How many adverse events were reported in France in 2023?" in lines
    assert sum(line.startswith("route: sql (structured, confidence") for line in lines) == 3
    assert "question: How many adverse events were reported in France in 2023?" in lines
