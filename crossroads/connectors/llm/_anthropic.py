"""The Anthropic Messages API (``POST /v1/messages``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict

from crossroads.connectors.base import Completion, Message, Usage
from crossroads.connectors.llm._http import HTTPChat, parse_json_text, post_json
from crossroads.errors import LLMResponseError

__all__ = ["AnthropicChat"]

_TOOL = "respond"
_WRAP_KEY = "value"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Block(_Wire):
    type: str
    text: str | None = None
    name: str | None = None
    input: Any = None


class _Usage(_Wire):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class _MessageResponse(_Wire):
    type: Literal["message"] = "message"
    content: list[_Block]
    model: str | None = None
    stop_reason: str | None = None
    usage: _Usage


def _tool_schema(schema: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The tool's ``input_schema`` (which must be an object) and whether it wraps ``schema``."""
    if schema.get("type") == "object":
        return dict(schema), False
    return {
        "type": "object",
        "properties": {_WRAP_KEY: dict(schema)},
        "required": [_WRAP_KEY],
    }, True


class AnthropicChat(HTTPChat):
    """A Claude model behind the Anthropic Messages API.

    ::

        llm = AnthropicChat("claude-sonnet-4-5")

    ``api_key`` falls back to ``ANTHROPIC_API_KEY``. System messages are joined
    into the top-level ``system`` field. The API requires ``max_tokens``, so a
    call without one sends the constructor's ``max_tokens`` (1024).

    Structured output uses a forced tool call: with ``json_schema`` the request
    declares one tool, ``respond``, whose ``input_schema`` is the schema (wrapped
    in ``{"value": …}`` when the schema is not an object, since tool inputs must
    be objects), and sets ``tool_choice`` to it. The ``tool_use`` block's input
    becomes ``Completion.data`` and its JSON ``text``. A reply without that block
    falls back to parsing the text as JSON; failing that, LLMResponseError.
    """

    provider = "anthropic"
    """The name the gateway audits calls under (``anthropic:<model>``)."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "https://api.anthropic.com",
        api_key: str | None = None,
        anthropic_version: str = "2023-06-01",
        timeout_s: float = 60.0,
        max_tokens: int = 1024,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self._api_key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY")
        self.max_tokens = max_tokens
        sent: dict[str, str] = {
            "content-type": "application/json",
            "anthropic-version": anthropic_version,
        }
        if self._api_key:
            sent["x-api-key"] = self._api_key
        sent.update(headers or {})
        super().__init__(
            model,
            url=base_url.rstrip("/") + "/v1/messages",
            headers=sent,
            timeout_s=timeout_s,
            client=client,
        )

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_schema: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Completion:
        """One chat completion. With ``json_schema`` the answer is JSON, parsed into ``data``."""
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        payload: dict[str, Any] = {
            "model": self._model,
            "max_tokens": self.max_tokens if max_tokens is None else max_tokens,
            "messages": [
                {"role": m.role, "content": m.content} for m in messages if m.role != "system"
            ],
        }
        if system:
            payload["system"] = system
        if temperature is not None:
            payload["temperature"] = temperature
        wrapped = False
        if json_schema is not None:
            input_schema, wrapped = _tool_schema(json_schema)
            payload["tools"] = [
                {
                    "name": _TOOL,
                    "description": "Give the answer in exactly this structure.",
                    "input_schema": input_schema,
                }
            ]
            payload["tool_choice"] = {"type": "tool", "name": _TOOL}
        body = post_json(
            self._client.get(),
            self._url,
            payload,
            headers=self._headers,
            timeout_s=self.timeout_s if timeout_s is None else timeout_s,
            provider=self.provider,
            model=self._model,
            key_env="ANTHROPIC_API_KEY",
            secrets=(self._api_key,),
        )
        return self._completion(body, json_requested=json_schema is not None, wrapped=wrapped)

    def _completion(self, body: Any, *, json_requested: bool, wrapped: bool) -> Completion:
        parsed = self._read(
            _MessageResponse,
            body,
            what="a message",
            hint="Check that base_url points at the Anthropic API.",
        )
        text = "".join(b.text or "" for b in parsed.content if b.type == "text")
        data: Any = None
        if json_requested:
            tool = next(
                (b for b in parsed.content if b.type == "tool_use" and b.name == _TOOL), None
            )
            if tool is not None:
                data = tool.input
                if wrapped:
                    if not isinstance(data, dict) or _WRAP_KEY not in data:
                        raise LLMResponseError(
                            f"{self.provider} model {self._model!r} called the {_TOOL!r} tool "
                            f"without the {_WRAP_KEY!r} field the schema requires: {data!r}. "
                            "Retry, or simplify the schema.",
                            model=self._model,
                            status=200,
                        )
                    data = data[_WRAP_KEY]
                text = json.dumps(data, ensure_ascii=False)
            else:
                data = parse_json_text(text, model=self._model, status=200)
        usage = parsed.usage
        prompt = (
            usage.input_tokens
            + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0)
        )
        return Completion(
            text=text,
            model=parsed.model or self._model,
            usage=Usage(prompt, usage.output_tokens),
            finish_reason=parsed.stop_reason,
            data=data,
        )
