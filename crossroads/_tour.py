"""``crossroads demo``: a guided tour of the router on the pharma example, offline.

One question per route — each routed, answered through the governed tool, with the
reasons, sources and governance shown — then one question asked as two principals,
to show the same policy changing the answer; then the audit log is verified.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from crossroads.audit import AuditLog

__all__ = ["GOVERNANCE", "TOUR", "run_tour"]

TOUR: list[tuple[str, str, str]] = [
    ("structured → governed text-to-SQL", "alice",
     "How many serious adverse events were reported in Germany in 2024?"),
    ("multi_hop → knowledge-graph traversal", "alice",
     "Which drugs inhibit the enzymes that metabolise Cardiozen?"),
    ("knowledge_gap → RAG with citations", "alice",
     "What is the recommended Cardiozen dose in renal impairment according to the EU label?"),
    ("holistic → long-context: every permitted SOP read at once", "carol",
     "List every SOP's owner."),
]  # fmt: skip
"""(what it shows, who asks, the question)."""

GOVERNANCE: tuple[str, tuple[str, ...]] = (
    "How many adverse events were reported for Cardiozen in 2024?",
    ("alice", "carol", "bob"),
)
"""One question, asked by several principals."""

_RULE = "─" * 78


def _show(app: object, who: str, question: str) -> str:
    from crossroads._app import Crossroads

    assert isinstance(app, Crossroads)
    principal = app.principal(who)
    groups = ", ".join(principal.groups)
    print(f"{who} ({groups}) asks: {question}")
    answer = app.ask(question, principal=principal)
    decision = answer.decision
    if decision is not None:
        print(f"  route  {decision.explain()}")
    for f in answer.fallbacks:
        print(f"  fell back from {f.route}: {f.reason[:160]}")
    print("  answer " + answer.text.split("\n\nSources:")[0].replace("\n", "\n         ")[:900])
    for source in answer.sources[:3]:
        print(f"  source {str(source)[:150]}")
    for note in answer.governance:
        print(f"  policy {note}")
    print()
    return answer.trace_id


def run_tour(directory: str | None = None) -> int:
    """Run the tour; returns the process exit code."""
    from crossroads._app import Crossroads

    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="crossroads-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    audit_path = root / "audit.jsonl"
    audit_path.unlink(missing_ok=True)
    audit = AuditLog(audit_path)
    app = Crossroads.from_example("pharma", audit=audit)
    example = app.example
    assert example is not None
    print(f"crossroads demo — the pharma example (data in {example.directory})")
    print(f"audit log: {audit_path}\n")
    print(_RULE)
    print("1. Four questions, four failure modes: each goes down the route that fixes it")
    print(_RULE + "\n")
    last = ""
    for story, who, question in TOUR:
        print(f"[{story}]")
        last = _show(app, who, question)
    print(_RULE)
    print("2. One question, three principals: the same policy, different answers")
    print(_RULE + "\n")
    question, people = GOVERNANCE
    for who in people:
        last = _show(app, who, question)
    report = audit.verify()
    events = len(audit.events())
    audit.close()
    print(_RULE)
    print(f"3. Every step was audited: {events} events, hash-chained")
    print(_RULE)
    print(f"$ crossroads audit verify {audit_path}\n{report.describe()}")
    print(f"$ crossroads audit show {audit_path} {last[:12]}   (the last answer, as a tree)")
    print(
        '\nTry: crossroads ask "Who manufactures Neurovia?" --as bob\n'
        '     crossroads route "Compare what all SOPs say about timelines" --as carol --json\n'
        "     crossroads chat --as alice"
    )
    return 0 if report.ok else 1
