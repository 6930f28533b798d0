"""Regressions for what an adversarial review of the router, the chat agent and the
example loader found. Each test failed on the code as reviewed; its ``# Was (severity):``
comment says what was wrong, its impact and where, and the test now guards the fix."""

from __future__ import annotations

import io
import os
import sqlite3
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import ormsgpack
import pytest
from langgraph.checkpoint.serde.jsonplus import EXT_CONSTRUCTOR_POS_ARGS
from langgraph.checkpoint.sqlite import SqliteSaver

import crossroads as xr
from crossroads._examples import examples_root
from crossroads.agents._chat import ChatAgent
from crossroads.agents._chat_cli import main as chat_main
from crossroads.agents._followup import data_kinds
from crossroads.connectors.llm import ScriptedLLM
from crossroads.errors import ConfigError, CrossroadsError

CONFIDENTIAL_DOC = "letter-cardiozen-reversal-data"
"""A confidential response letter: carol (pharmacovigilance) may read it, bob may not."""


@pytest.fixture
def pharma() -> Iterator[xr.Crossroads]:
    app = xr.Crossroads.from_example("pharma", audit=xr.AuditLog.memory())
    return app


def _carol_reads_the_confidential_letter(agent: ChatAgent) -> None:
    reply = agent.send("What does the letter say about reversal of Cardiozen anticoagulation?")
    assert reply.answer is not None
    assert any(CONFIDENTIAL_DOC in s.ref for s in reply.answer.sources)  # carol may read it


# --- 1. chat: /as and a shared thread hand one principal's answers to another ---------------


def test_as_switch_does_not_show_the_previous_principals_answer(pharma: xr.Crossroads) -> None:
    # Was (high): after `/as bob`, /sources, /why, /audit and /history read the LAST TURN OF
    # THE THREAD, which was asked (and answered) as carol. bob sees the ids and the quoted
    # text of a confidential letter he may not read, carol's routing signals (docs.best =
    # the confidential doc id, her corpus token count) and carol's whole audit trace.
    # Where: crossroads/agents/_chat.py ChatAgent._last / _cmd_sources / _cmd_why /
    # _cmd_audit / _cmd_history (no check of turn["principal"] against self.principal).
    # Fix: commands only read turns asked by the current principal (or /as starts a new
    # thread); follow-ups resolve only against the current principal's previous turn.
    agent = ChatAgent(pharma, "carol")
    _carol_reads_the_confidential_letter(agent)
    agent.send("/as bob")
    leaked = {cmd: agent.send(cmd).text for cmd in ("/sources", "/why", "/audit", "/history")}
    assert not any(CONFIDENTIAL_DOC in text for text in leaked.values()), leaked
    assert "by carol" not in leaked["/audit"]


def test_continuing_a_thread_as_another_principal_does_not_show_its_answers(
    pharma: xr.Crossroads, tmp_path: Path
) -> None:
    # Was (high): a thread id is all it takes to read a conversation: `crossroads chat
    # --as bob --thread <carol's thread>` (same checkpoint file) lets bob run /sources on
    # carol's answer. Threads do not record an owner, and nothing checks it.
    # Where: crossroads/agents/_chat.py ChatAgent.__init__ / _last; _chat_cli.run.
    # Fix: store the owning principal with the thread and refuse (ConfigError) to continue
    # it as anyone else, or filter the history by principal.
    connection = sqlite3.connect(tmp_path / "chat.sqlite", check_same_thread=False)
    saver = SqliteSaver(connection)
    saver.setup()
    try:
        carol = ChatAgent(pharma, "carol", checkpointer=saver, thread_id="t-carol")
        _carol_reads_the_confidential_letter(carol)
        try:
            bob = ChatAgent(pharma, "bob", checkpointer=saver, thread_id="t-carol")
        except CrossroadsError:
            return  # refusing to continue another principal's thread is a fix
        assert CONFIDENTIAL_DOC not in bob.send("/sources").text
    finally:
        connection.close()


# --- 2. chat: the checkpoint file is deserialised with code execution ------------------------


def test_chat_checkpoint_file_cannot_run_code(tmp_path: Path) -> None:
    # Was (high): `crossroads chat --thread ID` loads the thread from the SQLite checkpoint
    # file (default .crossroads/chat.sqlite in the CURRENT DIRECTORY) with LangGraph's
    # default, permissive msgpack serde: a crafted checkpoint calls any importable
    # function (here os.mkdir; os.system works as well) when the history is read.
    # Opening a repository or shared folder that contains a planted checkpoint is
    # enough. The chat state is JSON-ready (Turn dicts), so nothing needs constructors.
    # Where: crossroads/agents/_chat_cli.py run() (SqliteSaver(connection) with default
    # serde); ChatAgent's InMemorySaver default likewise.
    # Fix: SqliteSaver(connection, serde=JsonPlusSerializer(allowed_msgpack_modules=None))
    # (strict: safe types only), and validate the loaded history's shape.
    checkpoint = tmp_path / "chat.sqlite"
    marker = tmp_path / "code-ran"
    connection = sqlite3.connect(checkpoint, check_same_thread=False)
    saver = SqliteSaver(connection)
    saver.setup()
    app = xr.Crossroads.from_example("pharma", audit=xr.AuditLog.memory())
    ChatAgent(app, "alice", checkpointer=saver, thread_id="t1").send(
        "How many adverse events were reported in Germany?"
    )
    saved = saver.get_tuple({"configurable": {"thread_id": "t1"}})
    assert saved is not None
    state = saved.checkpoint
    state["channel_values"]["history"] = [
        ormsgpack.Ext(EXT_CONSTRUCTOR_POS_ARGS, ormsgpack.packb(["os", "mkdir", [str(marker)]]))
    ]
    _, blob = saver.serde.dumps_typed(state)
    connection.execute(
        "UPDATE checkpoints SET checkpoint = ? WHERE thread_id = 't1' AND checkpoint_id = ?",
        (blob, state["id"]),
    )
    connection.commit()
    connection.close()
    out, err = io.StringIO(), io.StringIO()
    code = chat_main(
        ["--example", "pharma", "--as", "alice", "--thread", "t1",
         "--checkpoint", str(checkpoint), "--audit", str(tmp_path / "audit.jsonl")],
        stdin=io.StringIO("/history\n"), stdout=out, stderr=err,
    )  # fmt: skip
    assert code in (0, 2), err.getvalue()  # read as plain data, or refused in one line
    assert not marker.exists(), "a checkpoint file ran os.mkdir while the chat loaded it"


def test_corrupt_checkpoint_gives_a_clear_error(tmp_path: Path) -> None:
    # Was (low): a checkpoint row that is not valid msgpack makes `crossroads chat --thread`
    # die with a raw `ValueError: invalid type Reserved` traceback instead of the exit-2
    # "cannot open the chat checkpoint" message the CLI gives for other bad files.
    # Where: crossroads/agents/_chat_cli.py run(): `turns = len(agent.history)` is only
    # guarded by `except CrossroadsError`. Fix: catch deserialisation errors there (and
    # in ChatAgent.history) and raise ConfigError naming the file and thread.
    checkpoint = tmp_path / "chat.sqlite"
    connection = sqlite3.connect(checkpoint, check_same_thread=False)
    saver = SqliteSaver(connection)
    saver.setup()
    app = xr.Crossroads.from_example("pharma", audit=xr.AuditLog.memory())
    ChatAgent(app, "alice", checkpointer=saver, thread_id="t1").send("Summarise all the SOPs")
    connection.execute("UPDATE checkpoints SET checkpoint = ?", (b"\xc1\xc1garbage",))
    connection.commit()
    connection.close()
    err = io.StringIO()
    code = chat_main(
        ["--example", "pharma", "--as", "alice", "--thread", "t1",
         "--checkpoint", str(checkpoint), "--audit", str(tmp_path / "audit.jsonl")],
        stdin=io.StringIO("/history\n"), stdout=io.StringIO(), stderr=err,
    )  # fmt: skip
    assert code == 2
    assert "checkpoint" in err.getvalue()


# --- 3. chat: follow-up resolution uses graph nodes the principal cannot see -----------------


def test_followup_resolution_ignores_nodes_the_principal_cannot_see(
    pharma: xr.Crossroads,
) -> None:
    # Was (medium): data_kinds() types graph mentions with graph.linker.mentions() and
    # graph.node_labels() WITHOUT the principal's visibility check, so investigational
    # compounds (label `investigational`, invisible to alice) are typed spans. The
    # rewrite then works as an existence oracle: after "Which drugs interact with
    # HLV-2291?", "and NRB-118?" is SUBSTITUTED ("... with NRB-118?", same hidden label)
    # while an unknown name is APPENDED ("... HLV-2291 for ZZZ-999?"); the "→ reading as"
    # line tells alice that NRB-118 is a hidden compound of the same kind.
    # Where: crossroads/agents/_followup.py data_kinds (graph branch).
    # Fix: keep only mention.nodes visible to the principal (GraphQA._visible), as
    # SignalExtractor._graph does.
    alice = pharma.principal("alice")
    kinds = data_kinds(sql=pharma.sql, graph=pharma.graph, principal=alice)
    assert kinds("NRB-118") == [], "a node alice may not traverse was typed for her"
    agent = ChatAgent(pharma, alice)
    agent.send("Which drugs interact with HLV-2291?")
    hidden = agent.resolve("and NRB-118?").replace("NRB-118", "X")
    unknown = agent.resolve("and ZZZ-999?").replace("ZZZ-999", "X")
    assert hidden == unknown


# --- 4. example loader: data loss and arbitrary code ----------------------------------------


def test_from_example_directory_does_not_delete_the_users_files(tmp_path: Path) -> None:
    # Was (high): from_example("pharma", directory=D) builds into a temp dir and then does
    # `if target.exists(): shutil.rmtree(target)` whenever D has no `.built` stamp, so
    # passing an existing folder (the docstring invites "into ... directory") silently
    # DELETES everything in it.
    # Where: crossroads/_examples.py load_example (the rmtree before os.replace).
    # Fix: only replace a directory that holds a `.built` stamp (a previous build);
    # refuse a non-empty directory without one (ConfigError).
    folder = tmp_path / "my-project"
    folder.mkdir()
    precious = folder / "notes.txt"
    precious.write_text("do not delete", encoding="utf-8")
    with pytest.raises(ConfigError, match="not empty"):
        xr.Crossroads.from_example("pharma", audit=xr.AuditLog.memory(), directory=folder)
    assert precious.exists(), "from_example(directory=...) deleted the user's files"


@pytest.mark.parametrize("style", ["absolute", "relative"])
def test_example_name_cannot_leave_the_examples_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, style: str
) -> None:
    # Was (medium): the example name is joined to the examples root unchecked:
    # `root / "/abs/path"` IS "/abs/path", and "../../x" walks out, so
    # from_example(NAME) / `crossroads ask --example NAME` / a stored workflow spec
    # {"example": NAME} imports and RUNS any domain.py the name reaches, and the build
    # target ($CROSSROADS_CACHE/examples/NAME-digest) may be outside the cache and is
    # rmtree'd on rebuild.
    # Where: crossroads/_examples.py load_example (source = root / name; target path).
    # Fix: accept only a plain folder name (re.fullmatch(r"[A-Za-z0-9_-]+")) and check
    # source.resolve() is inside root.resolve().
    monkeypatch.setenv("CROSSROADS_CACHE", str(tmp_path / "cache"))
    evil = tmp_path / "evil"
    evil.mkdir()
    marker = tmp_path / "code-ran"
    (evil / "domain.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n", encoding="utf-8"
    )
    (evil / "policy.yaml").write_text("version: 1\n", encoding="utf-8")
    name = str(evil) if style == "absolute" else os.path.relpath(evil, examples_root())
    raised: BaseException | None = None
    try:
        xr.Crossroads.from_example(name, audit=xr.AuditLog.memory())
    except Exception as exc:
        raised = exc
    assert not marker.exists(), f"from_example({name!r}) ran a domain.py outside examples/"
    assert isinstance(raised, ConfigError), raised


# --- 5. audit: route() is not one trace -------------------------------------------------------


def test_route_in_llm_mode_is_one_trace() -> None:
    # Was (medium): route() emits `router.route` with audit.emit() and opens no span, so
    # the model call that took the decision (llm event) and router.llm_decision land in
    # OTHER traces: the audit of a routing decision cannot be tied to the model call that
    # made it. (ask() is fine: it wraps decide() in the router.ask span.)
    # Where: crossroads/_app.py Crossroads.route.
    # Fix: `with self.audit.span("route", "router.route", principal, input=...) as s:
    # decision = self.classifier.decide(...); s.end(result=summary(decision))`.
    log = xr.AuditLog.memory()
    llm = ScriptedLLM([{"route": "sql", "confidence": 0.9, "reason": "counts"}] * 4)
    app = xr.Crossroads.from_example("pharma", audit=log, llm=llm)
    alice = app.principal("alice")
    app.route("How many adverse events were reported in Germany?", principal=alice)  # warm
    before = len(log.events())
    decision = app.route("How many adverse events were reported in France?", principal=alice)
    assert decision.mode == "llm"
    events = log.events()[before:]
    assert {e.kind for e in events} >= {"llm", "route"}
    assert len({e.trace_id for e in events}) == 1, [(e.trace_id[:6], e.name) for e in events]


def test_route_for_a_new_principal_is_one_trace() -> None:
    # Was (medium): the first route() for a principal builds its SQL lexicon with one
    # governed query per text column (~26 sql.query spans for the pharma schema), each
    # written as its OWN trace, unrelated to the router.route event they served:
    # one route() call = ~27 traces, ~80 audit events.
    # Where: crossroads/_app.py Crossroads.route (no span) over GovernedSQL.lexicon.
    # Fix: the span of the previous test; ideally build lexicons off the request path.
    log = xr.AuditLog.memory()
    app = xr.Crossroads.from_example("pharma", audit=log)
    app.route("How many adverse events were reported in Germany?", principal=app.principal("bob"))
    before = len(log.events())
    app.route("How many adverse events were reported in Germany?", principal=app.principal("erin"))
    events = log.events()[before:]
    assert len({e.trace_id for e in events}) == 1, f"{len(events)} events in many traces"


# --- 6. performance: per-principal caches -----------------------------------------------------


def test_route_cost_and_memory_do_not_grow_per_principal() -> None:
    # Was (medium): routing caches are keyed by the full Principal and never evicted
    # (GovernedSQL._lexicons, GraphQA._relations_cache, SignalExtractor._corpus up to
    # 4096). A service that builds a Principal per user (same groups, own id) pays
    # ~200 ms and ~80 audit events on each user's first route() (the ~1 ms promise
    # holds only when warm) and keeps ~0.3 MB per principal forever: 10k users ≈ 3 GB.
    # Where: crossroads/agents/_signals.py SignalExtractor._sql → GovernedSQL.lexicon;
    # _corpus_tokens; GraphQA.allowed_relations.
    # Fix: key what depends only on policy by what the policy reads (groups + the
    # attributes referenced by rules, not the id), and bound the caches (LRU).
    app = xr.Crossroads.from_example("pharma", audit=xr.AuditLog.memory())
    question = "How many adverse events were reported in Germany?"
    app.route(question, principal=app.principal("alice"))
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        for i in range(60):
            user = xr.Principal(
                f"user{i}", groups=["medical_info", "eu_medical_info"], attributes={"region": "EU"}
            )
            app.route(question, principal=user)
        grown, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert grown - start < 5_000_000, f"{(grown - start) / 1e6:.1f} MB kept for 60 principals"


# --- 7. compound questions are unbounded ------------------------------------------------------


def test_compound_question_parts_are_bounded(pharma: xr.Crossroads) -> None:
    # Was (medium): split_compound has no cap: one 4,000-character question becomes ~75
    # parts, each classified and run through up to 1 + max_fallbacks routes: ~670 audit
    # events and ~75 answers in one ask (in LLM mode ~75 routing calls plus the routes'
    # own model calls), an easy cost amplifier for any caller.
    # Where: crossroads/agents/_signals.py split_compound; crossroads/_app.py ask.
    # Fix: cap the parts (e.g. 5) and refuse or merge beyond it with a clear ConfigError.
    question = ("How many adverse events were reported in Germany, and " * 80)[:3990]
    try:
        answer = pharma.ask(question, principal=pharma.principal("alice"))
    except ConfigError:
        return
    assert len(answer.parts) <= 10, f"{len(answer.parts)} parts run for one question"


# --- 8. router check: a NULL aggregate counts as an answer -----------------------------------


def test_null_aggregate_is_not_an_answer(pharma: xr.Crossroads) -> None:
    # Was (medium): run_route treats any SQL result with a row as "ok". An aggregate over
    # no matching rows returns one row holding NULL, so "What was the total revenue in
    # Germany in 2024?" (the planner binds 2024 to sales.revenue) is answered=True with
    # the text "The answer is NULL." — no fallback, no "could not answer".
    # Where: crossroads/agents/_answers.py run_route, the `if not sql.result.rows` check.
    # Fix: a single-row result whose values are all NULL is "empty" (fall back / say so).
    answer = pharma.ask(
        "What was the total revenue in Germany in 2024?", principal=pharma.principal("alice")
    )
    assert not (answer.answered and "The answer is NULL" in answer.text), answer.text


# --- 9. CLI: --graph-sep is ignored by ask and route -----------------------------------------


def test_ask_and_route_honour_graph_sep(tmp_path: Path) -> None:
    # Was (low): app_spec() stores graph_sep but app_from_spec() calls
    # NetworkXGraph.from_triples(spec["graph"]) without sep=, so `crossroads route/ask
    # --graph kg.tsv --graph-sep $'\t'` fails to load a tab-separated graph (exit 2,
    # "line without three fields") although the option is documented. (`chat` passes it.)
    # Where: crossroads/_cli_app.py app_from_spec. Fix: sep=spec.get("graph_sep", "|").
    from crossroads.cli import main

    (tmp_path / "policy.yaml").write_text(
        "version: 1\nprincipals:\n  olga: {groups: [ops]}\n"
        'graph:\n  - {to: "group:ops", on: "graph:default"}\n',
        encoding="utf-8",
    )
    (tmp_path / "kg.tsv").write_text(
        "Mara Jansen\treports_to\tTom de Vries\nTom de Vries\treports_to\tIlse Bakker\n",
        encoding="utf-8",
    )
    code = main(
        ["route", "Who does Mara Jansen report to?", "--policy", str(tmp_path / "policy.yaml"),
         "--graph", str(tmp_path / "kg.tsv"), "--graph-sep", "\t", "--as", "olga",
         "--audit", str(tmp_path / "audit.jsonl")]
    )  # fmt: skip
    assert code == 0


# --- 10. bad input: fit() and long_context collections ---------------------------------------


@pytest.mark.parametrize(
    "examples",
    [[("a question without a route",)], [("q", "sql", "extra")], ["How many?"], [None]],
    ids=["one-tuple", "three-tuple", "bare-string", "none"],
)
def test_fit_rejects_malformed_examples_with_a_clear_error(
    mini_app: xr.Crossroads, examples: list[object]
) -> None:
    # Was (low): fit() unpacks `question, route = example` unguarded: a 1- or 3-tuple, a
    # bare string or None raises a raw ValueError/TypeError ("too many values to
    # unpack") instead of the ConfigError naming the example that fit() gives for a bad
    # route. Where: crossroads/_app.py Crossroads.fit. Fix: check the shape and raise
    # ConfigError(f"example {n}: ...").
    with pytest.raises(ConfigError):
        mini_app.fit(examples, principal=mini_app.principal("alice"))  # type: ignore[arg-type]


def test_fit_does_not_silently_replace_a_mapping_principal(mini_app: xr.Crossroads) -> None:
    # Was (low): a mapping whose "principal" is not a str (a Principal object, a typo'd
    # type) is silently replaced by the principal= argument, so signals are measured as
    # the wrong principal and the model is fitted on them without a word.
    # Where: crossroads/_app.py Crossroads.fit (`if isinstance(who, str) else principal`).
    # Fix: accept a Principal there, and raise ConfigError for anything else.
    with pytest.raises(ConfigError):
        mini_app.fit(
            [{"question": "How many adverse events?", "route": "sql", "principal": 5}],
            principal=mini_app.principal("alice"),
        )


def test_long_context_empty_collections_is_not_an_empty_index(mini_app: xr.Crossroads) -> None:
    # Was (low): LongContext.ask(q, p, collections=[]) narrows the scope to nothing and
    # denies with "may read no collection: the index is empty" — false (the index has
    # documents) and misleading. Where: crossroads/tools/long_context/_long_context.py
    # LongContextTool.authorize. Fix: reject an empty list as a ConfigError ("name at
    # least one collection, or pass None for all").
    assert mini_app.long_context is not None
    with pytest.raises(CrossroadsError) as info:
        mini_app.long_context.ask("Summarise the SOPs", mini_app.principal("alice"), collections=[])
    assert "index is empty" not in str(info.value)
