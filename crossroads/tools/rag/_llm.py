"""LLM mode for RAG: the model writes the answer from numbered passages and must cite
them; sentences that cite nothing (or a passage it was not given) are flagged as
unsupported. The model only ever sees passages the principal may read."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crossroads.connectors._chunking import sentences
from crossroads.connectors.base import Message
from crossroads.errors import CannotAnswer, LLMError
from crossroads.policy._principal import Principal
from crossroads.tools.rag._rag import DocumentAnswer, Hit, Source

if TYPE_CHECKING:
    from crossroads.connectors.llm import LLMGateway

__all__ = ["NO_ANSWER", "Written", "cited", "claims", "llm_answer", "written_answer"]

NO_ANSWER = "NO_ANSWER"
"""What the model is told to reply when the passages do not answer the question."""
_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def cited(sentence: str) -> list[int]:
    """The passage numbers a sentence cites (``[1]``, ``[2, 3]``)."""
    return [int(n) for m in _CITE.finditer(sentence) for n in m.group(1).split(",")]


_AFTER_STOP = re.compile(r"([.!?])\s*((?:\[\d+(?:\s*,\s*\d+)*\]\s*)+)")


def claims(text: str, passages: int) -> list[tuple[str, list[int]]]:
    """Each sentence of a model's answer with the passages (1..``passages``) it cites.

    Marks written after the full stop (``claim. [1]``) belong to the sentence before
    them. A sentence that cites nothing, or any number it was not given, gets ``[]``:
    it is unsupported.
    """
    moved = _AFTER_STOP.sub(lambda m: f" {m.group(2).strip()}{m.group(1)} ", text).strip()
    out = []
    for span in sentences(moved):
        sentence = moved[span.start : span.end]
        numbers = cited(sentence)
        ok = bool(numbers) and all(1 <= n <= passages for n in numbers)
        out.append((sentence, sorted(set(numbers)) if ok else []))
    return out


@dataclass(frozen=True, slots=True)
class Written:
    """A model's answer checked against the numbered sources it was given."""

    text: str
    """The answer, then its unsupported sentences flagged, then the sources listed."""
    sources: list[Source]
    """The sources it cites, by number."""
    unsupported: tuple[str, ...]


def written_answer(
    gateway: LLMGateway,
    principal: Principal,
    messages: list[Message],
    numbered: Sequence[Source],
    *,
    tool: str,
    noun: str,
) -> Written | None:
    """Ask the model, then map its ``[n]`` marks to ``numbered[n - 1]``.

    None when the model fails or says nothing (the caller answers without it);
    ``CannotAnswer`` when it replies :data:`NO_ANSWER`. ``noun`` names what the sources
    are (``passage``, ``document``) in messages.
    """
    try:
        reply = gateway.complete(messages, principal=principal)
    except LLMError:
        return None
    text = reply.text.strip()
    if not text:
        return None
    if text.startswith(NO_ANSWER):
        raise CannotAnswer(
            f"the model found no answer in the {noun}s you may read",
            tool=tool,
            reason="no relevant passage",
        )
    used: set[int] = set()
    unsupported: list[str] = []
    for sentence, valid in claims(text, len(numbered)):
        if not valid:
            unsupported.append(sentence)
        used.update(valid)
    sources = [dataclasses.replace(numbered[n - 1], n=n) for n in sorted(used)]
    flagged = (
        f"\n\nNot supported by a cited {noun}:\n" + "\n".join(f"- {u}" for u in unsupported)
        if unsupported
        else ""
    )
    listing = "\n\nSources:\n" + "\n".join(str(s) for s in sources) if sources else ""
    return Written(text + flagged + listing, sources, tuple(unsupported))


def llm_answer(
    gateway: LLMGateway, question: str, principal: Principal, hits: Sequence[Hit]
) -> DocumentAnswer | None:
    """The model's cited answer; None when the model fails (the caller answers
    extractively). ``CannotAnswer`` when the model says the passages do not answer."""
    passages = "\n\n".join(
        f"[{i}] ({h.doc_id}{' › ' + h.heading if h.heading else ''})\n{h.text}"
        for i, h in enumerate(hits, 1)
    )
    system = (
        "Answer the question using only the numbered passages. End every sentence with "
        "the numbers of the passages that support it, like [1] or [2, 3]. Do not use "
        f"anything else you know. If the passages do not answer the question, reply "
        f"exactly {NO_ANSWER}."
    )
    messages = [
        Message("system", system),
        Message("user", f"Passages:\n\n{passages}\n\nQuestion: {question}"),
    ]
    numbered = [
        Source(
            n=i,
            doc_id=h.doc_id,
            chunk_id=h.chunk_id,
            collection=h.collection,
            start=h.start,
            end=h.end,
            quote=h.text,
            heading=h.heading,
        )
        for i, h in enumerate(hits, 1)
    ]
    written = written_answer(gateway, principal, messages, numbered, tool="rag.ask", noun="passage")
    if written is None:
        return None
    return DocumentAnswer(
        question=question,
        text=written.text,
        sources=written.sources,
        mode="llm",
        hits=list(hits),
        unsupported=written.unsupported,
    )
