"""The OpenAI chat-completions wire format: OpenAI, Azure OpenAI and compatible servers.

vLLM, Ollama (``/v1``), the llama.cpp server and Databricks model serving speak
the same ``POST {base_url}/chat/completions`` protocol, so one class reaches all
of them; only ``base_url`` and the key change.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from crossroads.connectors.base import Completion, Message, Usage
from crossroads.connectors.llm._http import (
    HTTPChat,
    estimate_tokens,
    parse_json_text,
    post_json,
)
from crossroads.errors import LLMResponseError

__all__ = ["OpenAIChat"]

_SCHEMA_NAME = re.compile(r"[^a-zA-Z0-9_-]+")


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _ChoiceMessage(_Wire):
    content: str | None = None
    refusal: str | None = None


class _Choice(_Wire):
    message: _ChoiceMessage
    finish_reason: str | None = None


class _Usage(_Wire):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _ChatResponse(_Wire):
    choices: list[_Choice] = Field(min_length=1)
    model: str | None = None
    usage: _Usage | None = None


def _schema_name(schema: Mapping[str, Any]) -> str:
    title = schema.get("title")
    name = _SCHEMA_NAME.sub("_", title).strip("_")[:64] if isinstance(title, str) else ""
    return name or "response"


class OpenAIChat(HTTPChat):
    """A chat model behind the OpenAI ``/chat/completions`` protocol.

    ::

        llm = OpenAIChat("gpt-4o-mini")                                       # OpenAI
        local = OpenAIChat("llama3.1", base_url="http://localhost:11434/v1")  # Ollama
        vllm = OpenAIChat("Qwen/Qwen2.5-7B-Instruct", base_url="http://gpu-1:8000/v1")
        dbx = OpenAIChat("databricks-meta-llama-3-3-70b-instruct",
                         base_url="https://<workspace>/serving-endpoints",
                         api_key=os.environ["DATABRICKS_TOKEN"])
        azure = OpenAIChat.azure("https://<resource>.openai.azure.com", "gpt-4o", "2024-10-21")

    ``api_key`` falls back to ``OPENAI_API_KEY``; None is fine for local servers
    that need no key. With ``json_schema`` the request asks for strict
    structured output (``response_format`` of type ``json_schema``) and the
    answer is parsed into ``Completion.data``. Usage comes from the provider's
    ``usage``; a server that omits it gets an estimate of about four
    characters per token.

    The HTTP client is made on first use and closed by :meth:`close` (or by
    leaving a ``with`` block); a ``client`` passed in is used as is and left open.
    """

    provider = "openai"
    """The name the gateway audits calls under (``openai:<model>``)."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        timeout_s: float = 60.0,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._key_env: str | None = "OPENAI_API_KEY"
        sent: dict[str, str] = {"content-type": "application/json"}
        if self._api_key:
            sent["authorization"] = f"Bearer {self._api_key}"
        sent.update(headers or {})
        super().__init__(
            model,
            url=base_url.rstrip("/") + "/chat/completions",
            headers=sent,
            timeout_s=timeout_s,
            client=client,
        )

    @classmethod
    def azure(
        cls,
        endpoint: str,
        deployment: str,
        api_version: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 60.0,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> OpenAIChat:
        """A deployment on Azure OpenAI: ``{endpoint}/openai/deployments/{deployment}/…``.

        ``api_key`` falls back to ``AZURE_OPENAI_API_KEY`` and is sent in the
        ``api-key`` header, as Azure expects.
        """
        key = api_key if api_key is not None else os.environ.get("AZURE_OPENAI_API_KEY")
        chat = cls(deployment, api_key="", timeout_s=timeout_s, client=client)
        chat.provider = "azure"
        chat._api_key = key
        chat._key_env = "AZURE_OPENAI_API_KEY"
        chat._url = str(
            httpx.URL(
                f"{endpoint.rstrip('/')}/openai/deployments/{deployment}/chat/completions",
                params={"api-version": api_version},
            )
        )
        chat._headers = {"content-type": "application/json"}
        if key:
            chat._headers["api-key"] = key
        chat._headers.update(headers or {})
        return chat

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
        payload: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if temperature is not None:
            payload["temperature"] = temperature
        if json_schema is not None:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": _schema_name(json_schema),
                    "schema": dict(json_schema),
                    "strict": True,
                },
            }
        body = post_json(
            self._client.get(),
            self._url,
            payload,
            headers=self._headers,
            timeout_s=self.timeout_s if timeout_s is None else timeout_s,
            provider=self.provider,
            model=self._model,
            key_env=self._key_env,
            secrets=(self._api_key,),
        )
        return self._completion(body, messages, json_requested=json_schema is not None)

    def _completion(
        self, body: Any, messages: Sequence[Message], *, json_requested: bool
    ) -> Completion:
        parsed = self._read(
            _ChatResponse,
            body,
            what="a chat completion",
            hint="Check that base_url points at an OpenAI-compatible API.",
        )
        choice = parsed.choices[0]
        if choice.message.content is None and choice.message.refusal is not None:
            raise LLMResponseError(
                f"{self.provider} model {self._model!r} refused to answer: "
                f"{choice.message.refusal!r}. Rephrase the request.",
                model=self._model,
                status=200,
            )
        text = choice.message.content or ""
        data = parse_json_text(text, model=self._model, status=200) if json_requested else None
        if parsed.usage is not None:
            usage = Usage(parsed.usage.prompt_tokens, parsed.usage.completion_tokens)
        else:
            prompt = sum(estimate_tokens(m.content) for m in messages)
            usage = Usage(prompt, estimate_tokens(text))
        return Completion(
            text=text,
            model=parsed.model or self._model,
            usage=usage,
            finish_reason=choice.finish_reason,
            data=data,
        )
