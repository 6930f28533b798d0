"""The chat agent: multi-turn governed question answering with explainable answers.

A conversation is a LangGraph ``StateGraph`` with one ``turn`` node; its state (the
history of turns) lives in a checkpointer under the conversation's ``thread_id``, so a
conversation saved by one process (``SqliteSaver``) is continued by the next. Each
turn resolves a follow-up ("and in France?") against the previous resolved question
(:func:`resolve_followup`, deterministic), asks the app as the current principal, and
records the answer, its route and sources, what governance changed and the audit
trace. Commands (``/why``, ``/sources``, ``/audit``, ``/as``, ``/history``, ``/help``,
``/quit``) read that history.

>>> agent = ChatAgent(app, "alice")                                   # doctest: +SKIP
>>> agent.send("How many adverse events were reported in Germany?").text  # doctest: +SKIP
>>> agent.send("and in France?").resolved_question                    # doctest: +SKIP
'How many adverse events were reported in France?'
"""

from __future__ import annotations

import json
import operator
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from crossroads.agents._followup import data_kinds, expand_principal_refs, resolve_followup
from crossroads.agents._types import Answer
from crossroads.audit import iter_tree
from crossroads.errors import ConfigError, CrossroadsError, PolicyViolation
from crossroads.graphs._serde import safe_serde
from crossroads.policy import Principal

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from crossroads._app import Crossroads
    from crossroads.audit import AuditEvent

__all__ = ["ChatAgent", "ChatReply", "ChatState", "Turn"]

_SOURCES_SHOWN = 4
_WIDTH = 160


class Turn(TypedDict):
    """One answered turn of a conversation, as kept by the checkpointer (JSON-ready)."""

    question: str
    """The message as typed."""
    resolved_question: str
    """The question that was asked (the follow-up resolved, references expanded)."""
    principal: str
    """Who asked (a principal id)."""
    route: str
    failure_mode: str
    answered: bool
    text: str
    sources: list[dict[str, Any]]
    fallbacks: list[dict[str, Any]]
    governance: list[str]
    decision: dict[str, Any] | None
    trace_id: str


class ChatState(TypedDict, total=False):
    """The conversation graph's state: the message of the running turn and the history."""

    message: str
    history: Annotated[list[Turn], operator.add]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatReply:
    """What one message produced: the text to show and, for a question, the answer."""

    message: str
    """The message as sent."""
    text: str
    """What to print."""
    resolved_question: str | None = None
    """The question that was asked (a follow-up resolved), or None for a command."""
    answer: Answer | None = None
    """The app's answer, or None for a command or an error."""
    command: str | None = None
    """The command run (``/why`` …), if the message was one."""
    error: CrossroadsError | None = None
    """The error that stopped the turn (``text`` says what it was); the conversation
    continues."""
    done: bool = False
    """True after ``/quit``: the caller should stop."""

    @property
    def rewritten(self) -> bool:
        """True when the question asked differs from the message (a resolved follow-up)."""
        return self.resolved_question is not None and self.resolved_question != self.message


_HELP = """\
commands:
  /as PRINCIPAL  ask as another principal from now on (the conversation continues)
  /why           the last routing decision in full: scores, runner-up, reasons, signals
  /sources       every source of the last answer, in full
  /audit         the last answer's audit trace as a tree
  /history       the questions of this conversation
  /help          this list
  /quit          end the chat (also /exit, or end of input)
anything else is a question; a fragment such as "and in France?" or "what about 2023?"
is read against the previous question."""


class ChatAgent:
    """A multi-turn conversation with a :class:`~crossroads.Crossroads` app.

    :param app: the app to ask.
    :param principal: who asks (a ``Principal`` or a principal id from the catalog);
        ``/as`` switches it.
    :param checkpointer: where the conversation is kept (a LangGraph checkpointer;
        default an ``InMemorySaver``; the CLI uses a ``SqliteSaver`` file).
    :param thread_id: the conversation's id; pass an existing one to continue it
        (default: a new random id).
    """

    def __init__(
        self,
        app: Crossroads,
        principal: Principal | str,
        *,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        thread_id: str | None = None,
    ) -> None:
        self.app = app
        self.principal = self._principal(principal)
        self.checkpointer: BaseCheckpointSaver[Any] = (
            checkpointer if checkpointer is not None else InMemorySaver(serde=safe_serde())
        )
        if thread_id is not None and not thread_id.strip():
            raise ConfigError("thread_id must be non-empty text (or None for a new thread)")
        self.thread_id = thread_id or uuid.uuid4().hex[:12]
        builder = StateGraph(ChatState)
        builder.add_node("turn", self._turn)
        builder.add_edge(START, "turn")
        builder.add_edge("turn", END)
        self.graph = builder.compile(checkpointer=self.checkpointer)
        self._answer: Answer | None = None
        owner = self.owner
        if owner is not None and owner != self.principal.id:
            raise ConfigError(
                f"conversation {self.thread_id} belongs to {owner}: it cannot be continued as "
                f"{self.principal.id}; start a new conversation (omit the thread id)"
            )
        self._commands: Mapping[str, Callable[[str], str]] = {
            "/as": self._cmd_as,
            "/why": self._cmd_why,
            "/sources": self._cmd_sources,
            "/audit": self._cmd_audit,
            "/history": self._cmd_history,
            "/help": lambda _: _HELP,
        }

    # --- conversation state -----------------------------------------------------------------

    @property
    def config(self) -> RunnableConfig:
        """The LangGraph config naming this conversation's thread."""
        return {"configurable": {"thread_id": self.thread_id}}

    @property
    def history(self) -> list[Turn]:
        """The answered turns of this conversation, oldest first (from the checkpointer)."""
        values = self.graph.get_state(self.config).values
        return list(values.get("history", [])) if isinstance(values, dict) else []

    @property
    def owner(self) -> str | None:
        """Who started this conversation (None while it is empty); only they may continue
        it from a saved thread."""
        history = self.history
        return history[0]["principal"] if history else None

    def _mine(self, history: Sequence[Turn]) -> list[Turn]:
        """The turns the current principal asked: ``/as`` never shows one principal
        another's answers, sources or traces, nor resolves a follow-up against them."""
        return [t for t in history if t["principal"] == self.principal.id]

    @property
    def last_answer(self) -> Answer | None:
        """The last answer this agent received in this process (None after a restart:
        the history keeps its JSON form)."""
        return self._answer

    # --- messages -------------------------------------------------------------------------

    def send(self, message: str) -> ChatReply:
        """Handle one message: a ``/command`` or a question (follow-ups resolved against
        the previous question). Errors of crossroads (bad input, denials) come back as
        a reply whose ``text`` says what happened; the conversation continues."""
        text = message.strip() if isinstance(message, str) else ""
        if not text:
            return ChatReply(message=str(message), text="(nothing to ask; /help lists commands)")
        if text.startswith("/"):
            return self._command(text)
        try:
            state = self.graph.invoke({"message": text}, self.config)
        except CrossroadsError as exc:
            return ChatReply(message=text, text=describe_error(exc), error=exc)
        turn: Turn = state["history"][-1]
        answer = self._answer
        return ChatReply(
            message=text,
            text=render_turn(turn),
            resolved_question=turn["resolved_question"],
            answer=answer,
        )

    def resolve(self, message: str) -> str:
        """The question ``message`` would ask now (a follow-up resolved against the last
        question of the conversation, references such as ``bob's region`` expanded)."""
        mine = self._mine(self.history)
        return self._resolve(message.strip(), mine[-1]["resolved_question"] if mine else None)

    def _resolve(self, message: str, previous: str | None) -> str:
        expanded = expand_principal_refs(message, self.app.catalog.principals, self.principal)
        if previous:
            kinds = data_kinds(sql=self.app.sql, graph=self.app.graph, principal=self.principal)
            resolved = resolve_followup(previous, expanded, kinds)
            if resolved is not None:
                return resolved
        return expanded

    def _turn(self, state: ChatState) -> dict[str, Any]:
        """The graph's node: resolve, ask, record."""
        message = state["message"]
        mine = self._mine(state.get("history", []))
        question = self._resolve(message, mine[-1]["resolved_question"] if mine else None)
        answer = self.app.ask(question, principal=self.principal)
        self._answer = answer
        data = json.loads(json.dumps(answer.to_dict(), default=str))
        turn: Turn = {
            "question": message,
            "resolved_question": question,
            "principal": self.principal.id,
            "route": data["route"],
            "failure_mode": data["failure_mode"],
            "answered": data["answered"],
            "text": data["text"],
            "sources": data["sources"],
            "fallbacks": data["fallbacks"],
            "governance": data["governance"],
            "decision": data["decision"],
            "trace_id": data["trace_id"],
        }
        return {"history": [turn]}

    # --- commands -------------------------------------------------------------------------

    def _command(self, text: str) -> ChatReply:
        name, _, arg = text.partition(" ")
        name = name.lower()
        if name in ("/quit", "/exit", "/q"):
            return ChatReply(message=text, text="bye", command="/quit", done=True)
        handler = self._commands.get(name)
        if handler is None:
            known = ", ".join([*self._commands, "/quit"])
            return ChatReply(
                message=text,
                text=f"unknown command {name}; the commands are {known} (/help explains them)",
                command=name,
            )
        try:
            out = handler(arg.strip())
        except CrossroadsError as exc:
            return ChatReply(message=text, text=describe_error(exc), command=name, error=exc)
        return ChatReply(message=text, text=out, command=name)

    def _principal(self, principal: Principal | str) -> Principal:
        if isinstance(principal, Principal):
            return principal
        if not isinstance(principal, str) or not principal.strip():
            raise ConfigError(f"principal must be a Principal or a principal id, got {principal!r}")
        return self.app.principal(principal.strip())

    def _last(self) -> Turn:
        mine = self._mine(self.history)
        if not mine:
            raise ConfigError(
                f"{self.principal.id} has asked nothing yet in this conversation; ask a question"
            )
        return mine[-1]

    def _cmd_as(self, arg: str) -> str:
        if not arg:
            known = ", ".join(sorted(self.app.catalog.principals)) or "none"
            return f"usage: /as PRINCIPAL (asking as {self.principal.id}; known: {known})"
        self.principal = self._principal(arg)
        return f"now asking as {describe_principal(self.principal)}"

    def _cmd_why(self, _: str) -> str:
        turn = self._last()
        decision = turn["decision"]
        if decision is None:
            return f"no routing decision was recorded for {turn['resolved_question']!r}"
        return render_decision(
            decision,
            answered_by=turn["route"],
            answered=turn["answered"],
            fallbacks=turn["fallbacks"],
        )

    def _cmd_sources(self, _: str) -> str:
        turn = self._last()
        if not turn["sources"]:
            return f"the answer to {turn['resolved_question']!r} cites no sources"
        lines = [f"sources of the answer to {turn['resolved_question']!r}:"]
        for s in turn["sources"]:
            mark = f"[{s['n']}] " if s.get("n") else ""
            lines.append(f"- {mark}{s['kind']}: {s['ref']}")
            if s.get("detail"):
                lines += [f"    {line}" for line in str(s["detail"]).splitlines()]
        return "\n".join(lines)

    def _cmd_audit(self, _: str) -> str:
        turn = self._last()
        events = self.app.audit.events(trace_id=turn["trace_id"])
        if not events:
            return (
                f"no audit events for trace {turn['trace_id']} in {self.app.audit!r} "
                "(the conversation may have been recorded to another audit log)"
            )
        return render_trace(events)

    def _cmd_history(self, _: str) -> str:
        history = self._mine(self.history)
        if not history:
            return f"thread {self.thread_id}: no questions from {self.principal.id} yet"
        lines = [f"thread {self.thread_id}: {len(history)} turns by {self.principal.id}"]
        for n, turn in enumerate(history, 1):
            asked = turn["resolved_question"]
            typed = f" (typed: {turn['question']})" if turn["question"] != asked else ""
            lines.append(f"{n}. [{turn['principal']} → {turn['route']}] {asked}{typed}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ChatAgent(thread_id={self.thread_id!r}, principal={self.principal.id!r})"


# --- rendering -------------------------------------------------------------------------------


def _clip(text: str, width: int = _WIDTH) -> str:
    one_line = " ".join(str(text).split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


def describe_error(exc: CrossroadsError) -> str:
    """One line for an error: ``denied: …`` for a policy violation, else ``error: …``."""
    head = "denied" if isinstance(exc, PolicyViolation) else "error"
    return f"{head}: {' '.join(str(exc).split())}"


def describe_principal(p: Principal) -> str:
    """``alice (groups: eu_medical_info; region=EU)``."""
    bits = []
    if p.groups:
        bits.append("groups: " + ", ".join(p.groups))
    if p.attributes:
        bits.append(", ".join(f"{k}={v}" for k, v in sorted(p.attributes.items())))
    return f"{p.id} ({'; '.join(bits)})" if bits else p.id


def _explain(decision: Mapping[str, Any]) -> str:
    reasons = "; ".join(decision.get("reasons") or []) or "no strong signal"
    runner = decision.get("runner_up")
    text = (
        f"{decision['route']} ({decision['failure_mode']}, confidence "
        f"{float(decision['confidence']):.2f}{f', runner-up {runner}' if runner else ''}): "
        f"{reasons}"
    )
    return text + (" [decided by the model, validated]" if decision.get("mode") == "llm" else "")


def render_turn(turn: Turn) -> str:
    """A turn for the terminal: the question read (when rewritten), the answer, its
    route and why, fallbacks, sources (compact) and what governance changed."""
    lines: list[str] = []
    if turn["resolved_question"] != turn["question"]:
        lines.append(f"→ reading as: {turn['resolved_question']}")
    lines.append(turn["text"].rstrip() or "(no answer text)")
    lines.append("")
    decision = turn["decision"]
    if decision is not None:
        lines.append(f"route: {_explain(decision)}")
    for f in turn["fallbacks"]:
        lines.append(f"fallback: {f['route']} could not answer ({_clip(f['reason'], 120)})")
    if not turn["answered"]:
        lines.append("answered by: no route (every route tried failed)")
    elif turn["fallbacks"] or (decision is not None and decision["route"] != turn["route"]):
        lines.append(f"answered by: {turn['route']}")
    sources = turn["sources"]
    if sources:
        lines.append(f"sources ({len(sources)}):")
        for s in sources[:_SOURCES_SHOWN]:
            mark = f"[{s['n']}] " if s.get("n") else ""
            lines.append(f"  {mark}{s['kind']}: {_clip(s['ref'], 120)}")
        if len(sources) > _SOURCES_SHOWN:
            lines.append(f"  … {len(sources) - _SOURCES_SHOWN} more (/sources)")
    else:
        lines.append("sources: none")
    if turn["governance"]:
        lines.append(f"governance for {turn['principal']}:")
        lines += [f"  - {g}" for g in turn["governance"]]
    else:
        lines.append(f"governance for {turn['principal']}: nothing withheld or changed")
    return "\n".join(lines)


def render_decision(
    decision: Mapping[str, Any],
    *,
    answered_by: str | None = None,
    answered: bool = True,
    fallbacks: Sequence[Mapping[str, Any]] = (),
    indent: str = "",
) -> str:
    """A routing decision in full: route, confidence, scores per route, runner-up,
    reasons and signals (and the parts of a compound question)."""
    lines = [
        f"{indent}question: {decision['question']}",
        f"{indent}route: {decision['route']} ({decision['failure_mode']}), confidence "
        f"{float(decision['confidence']):.2f}, decided by {decision.get('mode', 'deterministic')}",
        f"{indent}runner-up: {decision.get('runner_up') or 'none'}",
    ]
    scores: Mapping[str, float] = decision.get("scores") or {}
    if scores:
        lines.append(f"{indent}scores:")
        for route, score in sorted(scores.items(), key=lambda kv: -float(kv[1])):
            bar = "#" * round(float(score) * 20)
            lines.append(f"{indent}  {route:<13} {float(score):.3f} {bar}")
    reasons = decision.get("reasons") or []
    lines.append(f"{indent}reasons:" if reasons else f"{indent}reasons: none")
    lines += [f"{indent}  - {r}" for r in reasons]
    signals: Mapping[str, Any] = decision.get("signals") or {}
    if signals:
        lines.append(f"{indent}signals:")
        for key in sorted(signals):
            value = json.dumps(signals[key], default=str, ensure_ascii=False, sort_keys=True)
            lines.append(f"{indent}  {key}: {_clip(value, 140)}")
    for f in fallbacks:
        lines.append(f"{indent}fallback: {f['route']} could not answer: {_clip(f['reason'], 140)}")
    if not answered:
        lines.append(f"{indent}answered by: no route (every route tried failed)")
    elif answered_by is not None and answered_by != decision["route"]:
        lines.append(f"{indent}answered by: {answered_by}")
    for n, part in enumerate(decision.get("parts") or [], 1):
        lines.append(f"{indent}part {n}:")
        lines.append(render_decision(part, indent=indent + "  "))
    return "\n".join(lines)


def _event_line(event: AuditEvent) -> str:
    bits = [f"#{event.seq}", event.stage]
    if event.decision is not None:
        verdict = "ALLOW" if event.decision.allowed else "DENY"
        bits.append(f"{verdict}: {event.decision.reason}")
    if event.error is not None:
        bits.append(f"error {event.error.get('type')}: {event.error.get('message')}")
    if event.result:
        bits.append(_clip(json.dumps(event.result, default=str, ensure_ascii=False), 140))
    return "  ".join(bits)


def render_trace(events: Sequence[AuditEvent]) -> str:
    """One audit trace as an indented tree of spans (``kind name``) and their events."""
    first = events[0]
    lines = [f"trace {first.trace_id} ({len(events)} events, by {first.principal.get('id')})"]
    for depth, span in iter_tree(events):
        pad = "  " * depth
        head = span[0]
        lines.append(f"{pad}└ {head.kind} {head.name}")
        for event in span:
            lines.append(f"{pad}    {_event_line(event)}")
            if event.policy and event.policy.get("sql_after"):
                lines.append(f"{pad}      sql after governance: {event.policy['sql_after']}")
    return "\n".join(lines)
