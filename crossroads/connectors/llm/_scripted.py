"""A scripted chat model: the test double that ships with the library."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crossroads.connectors.base import Completion, Message, Usage
from crossroads.connectors.llm._http import estimate_tokens, parse_json_text
from crossroads.errors import LLMError

__all__ = ["ScriptedLLM", "ScriptedReply"]

ScriptedReply = (
    str | Mapping[str, Any] | BaseException | Callable[[list[Message]], str | Mapping[str, Any]]
)
"""One scripted reply: text, a JSON object, an exception to raise, or a function of the messages."""


class ScriptedLLM:
    """A chat model that answers with scripted replies, in order (an LLM test double).

    >>> llm = ScriptedLLM(["structured", {"route": "sql"}, TimeoutError("boom")])
    >>> llm.complete([Message("user", "which route?")]).text
    'structured'
    >>> llm.complete([Message("user", "as JSON")]).data
    {'route': 'sql'}

    A Mapping reply comes back as JSON text and as ``data``. A text reply to a
    call with ``json_schema`` is parsed as JSON (invalid JSON raises
    LLMResponseError, like a real connector). An exception is raised; a callable
    is called with the messages and its result treated as a reply. Every call's
    messages are kept in :attr:`calls`. Running out of replies raises LLMError.
    Usage is estimated from character counts (about four per token).
    """

    provider = "scripted"
    """The name the gateway audits calls under (``scripted:<model>``)."""

    def __init__(self, responses: Sequence[ScriptedReply], *, model: str = "scripted") -> None:
        self._responses = list(responses)
        self._model = model
        self._lock = threading.Lock()
        self.calls: list[list[Message]] = []
        """The messages of every call, in order (including calls that raised)."""

    @property
    def model(self) -> str:
        """The scripted model's name."""
        return self._model

    @property
    def remaining(self) -> int:
        """How many scripted replies are left."""
        with self._lock:
            return len(self._responses) - len(self.calls)

    def __repr__(self) -> str:
        return f"ScriptedLLM(model={self._model!r}, replies={len(self._responses)})"

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_schema: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Completion:
        """The next scripted reply. With ``json_schema`` the reply must be JSON."""
        received = list(messages)
        with self._lock:
            index = len(self.calls)
            self.calls.append(received)
            if index >= len(self._responses):
                raise LLMError(
                    f"ScriptedLLM {self._model!r} was called {index + 1} times but holds only "
                    f"{len(self._responses)} scripted replies; add a reply for this call "
                    f"(its last message was {received[-1].content[:80]!r})"
                    if received
                    else f"ScriptedLLM {self._model!r} ran out of its "
                    f"{len(self._responses)} scripted replies; add more.",
                    model=self._model,
                )
            reply = self._responses[index]
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            reply = reply(received)
        data: Any = None
        if isinstance(reply, Mapping):
            data = dict(reply)
            text = json.dumps(data, ensure_ascii=False)
        else:
            text = str(reply)
            if json_schema is not None:
                data = parse_json_text(text, model=self._model)
        prompt = sum(estimate_tokens(m.content) for m in received)
        return Completion(
            text=text,
            model=self._model,
            usage=Usage(prompt, estimate_tokens(text)),
            finish_reason="stop",
            data=data,
        )
