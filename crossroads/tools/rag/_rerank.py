"""Rerankers: reorder retrieved hits before an answer is drawn from the best of them.

:class:`LLMReranker` asks a model to rank numbered passages by how well they answer the
query (a listwise prompt). Its reply is validated: unknown or repeated numbers are
dropped, passages it left out keep their retrieval order after the ranked ones, and a
model that fails leaves the retrieval order unchanged — a reranker can reorder, never
invent or lose a passage. The passages are only ever those the principal may read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crossroads.connectors.base import LLM, Message
from crossroads.errors import ConfigError, LLMError
from crossroads.policy._principal import Principal
from crossroads.tools.rag._rag import Hit

if TYPE_CHECKING:
    from crossroads.audit import AuditLog
    from crossroads.connectors.llm import LLMGateway

__all__ = ["LLMReranker"]

_SCHEMA = {
    "type": "object",
    "properties": {
        "ranking": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "passage numbers, most relevant first",
        }
    },
    "required": ["ranking"],
    "additionalProperties": False,
}
_NUMBER = re.compile(r"\d+")


class LLMReranker:
    """Reranks with a language model (every call audited through the gateway).

    ``principal`` is whose budget the calls are charged to and who they are audited
    as; RAG passes the caller's own when it reranks for it. ``max_chars`` caps each
    passage shown to the model.
    """

    def __init__(
        self,
        llm: LLMGateway | LLM,
        *,
        principal: Principal | None = None,
        audit: AuditLog | None = None,
        max_chars: int = 1200,
    ) -> None:
        from crossroads.connectors.llm import LLMGateway

        if max_chars < 100:
            raise ConfigError(f"max_chars must be at least 100, got {max_chars}")
        from crossroads.audit import resolve_audit

        self.gateway = (
            llm if isinstance(llm, LLMGateway) else LLMGateway([llm], audit=resolve_audit(audit))
        )
        self.principal = principal
        self.max_chars = max_chars
        self.failures = 0
        """How many times the model failed and the retrieval order was kept."""

    def rerank(
        self, query: str, hits: Sequence[Hit], principal: Principal | None = None
    ) -> list[Hit]:
        """``hits`` reordered by the model; unchanged when it fails or says nothing usable."""
        who = principal or self.principal
        if who is None:
            raise ConfigError(
                "LLMReranker needs a principal to charge and audit the model call: pass "
                "principal= when building it (RAG passes the caller's own)"
            )
        if len(hits) < 2:
            return list(hits)
        passages = "\n\n".join(f"[{i}] {h.text[: self.max_chars]}" for i, h in enumerate(hits, 1))
        messages = [
            Message(
                "system",
                "Rank the numbered passages by how well they answer the query, most "
                'relevant first. Reply with JSON: {"ranking": [numbers]}.',
            ),
            Message("user", f"Query: {query}\n\nPassages:\n\n{passages}"),
        ]
        try:
            reply = self.gateway.complete(messages, principal=who, json_schema=_SCHEMA)
        except LLMError:
            self.failures += 1
            return list(hits)
        order = _ranking(reply.data, reply.text, len(hits))
        if not order:
            self.failures += 1
            return list(hits)
        ranked = [hits[i - 1] for i in order]
        return ranked + [h for i, h in enumerate(hits, 1) if i not in set(order)]


def _ranking(data: Any, text: str, n: int) -> list[int]:
    """The valid passage numbers of a reply, first occurrence kept, in order."""
    raw: Any = data.get("ranking") if isinstance(data, dict) else None
    if raw is None:
        try:
            parsed = json.loads(text)
            raw = parsed.get("ranking") if isinstance(parsed, dict) else parsed
        except ValueError:
            raw = [int(m) for m in _NUMBER.findall(text)]
    if not isinstance(raw, list):
        return []
    out: list[int] = []
    for item in raw:
        valid = isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= n
        if valid and item not in out:
            out.append(item)
    return out
