"""Shared HTTP plumbing for the vendor connectors.

One place turns an httpx exchange into either decoded JSON or a crossroads
error: timeouts become :class:`~crossroads.errors.LLMTimeout`, unreachable
endpoints :class:`LLMConnectionError`, 401/403 an :class:`~crossroads.errors.LLMError`
naming the environment variable to set, 429 :class:`~crossroads.errors.LLMRateLimited`
carrying ``retry_after``, 5xx a retryable :class:`~crossroads.errors.LLMError`
with its ``status``, other 4xx and unusable bodies
:class:`~crossroads.errors.LLMResponseError` with the provider's own message.

Every message that quotes the provider passes through :func:`redact`, so an
API key echoed back by a server never reaches an exception or a log.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from crossroads.errors import (
    LLMConnectionError,
    LLMError,
    LLMRateLimited,
    LLMResponseError,
    LLMTimeout,
)

__all__ = [
    "ClientHolder",
    "HTTPChat",
    "estimate_tokens",
    "parse_json_text",
    "parse_retry_after",
    "post_json",
    "redact",
]

_MAX_QUOTE = 500
_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


def estimate_tokens(text: str) -> int:
    """A rough token count for ``text``: about four characters per token."""
    return math.ceil(len(text) / 4) if text else 0


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-empty secret replaced by ``[REDACTED]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    return text


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date).

    Returns None when neither header is present or readable; never negative.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def parse_json_text(text: str, *, model: str, status: int | None = None) -> Any:
    """Decode a model's JSON answer, tolerating a surrounding Markdown code fence."""
    match = _FENCE.match(text)
    body = match.group(1) if match else text
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise LLMResponseError(
            f"model {model!r} was asked for JSON but answered with text that is not valid "
            f"JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): {_quote(text)}. "
            "Retry, simplify the schema, or use a model that supports structured output.",
            model=model,
            status=status,
        ) from exc


def _quote(text: str) -> str:
    text = text.strip()
    if len(text) > _MAX_QUOTE:
        text = text[:_MAX_QUOTE] + "…"
    return repr(text)


def _provider_message(response: httpx.Response) -> str:
    """The provider's own error text: ``error.message`` (OpenAI, Anthropic), or the raw body."""
    try:
        body = response.json()
    except ValueError:
        return _quote(response.text) if response.text.strip() else "(empty body)"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            kind = error.get("type") or error.get("code")
            prefix = f"{kind}: " if isinstance(kind, str) and kind else ""
            return _quote(prefix + error["message"])
        if isinstance(error, str):  # Ollama, llama.cpp and some proxies
            return _quote(error)
        if isinstance(body.get("message"), str):
            return _quote(body["message"])
    return _quote(response.text)


def _status_error(
    response: httpx.Response, *, provider: str, model: str, url: str, key_env: str | None
) -> LLMError:
    status = response.status_code
    said = _provider_message(response)
    where = f"{provider} model {model!r} at {url}"
    if status in (401, 403):
        fix = (
            f"set the {key_env} environment variable or pass api_key="
            if key_env
            else "pass api_key="
        )
        what = "is missing or invalid" if status == 401 else "is not allowed to use this model"
        return LLMError(
            f"{where} answered {status}: the API key {what} (the provider said {said}); {fix}.",
            model=model,
            status=status,
        )
    if status == 429:
        wait = parse_retry_after(response.headers)
        hint = f"the provider asks to retry after {wait:g} s" if wait is not None else "retry later"
        return LLMRateLimited(
            f"{where} answered 429 (rate limited; the provider said {said}); {hint}, "
            "or lower the request rate.",
            model=model,
            status=status,
            retry_after=wait,
        )
    if status >= 500:
        return LLMError(
            f"{where} answered {status}, a server-side failure (the provider said {said}); "
            "it is usually transient: retry, or fall back to another model.",
            model=model,
            status=status,
            retry_after=parse_retry_after(response.headers),
        )
    return LLMResponseError(
        f"{where} rejected the request with {status}: {said}. Fix the request "
        "(model name, parameters, schema) as the provider's message says.",
        model=model,
        status=status,
    )


def post_json(
    client: httpx.Client,
    url: str,
    payload: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    timeout_s: float,
    provider: str,
    model: str,
    key_env: str | None,
    secrets: Iterable[str | None] = (),
) -> Any:
    """POST ``payload`` as JSON and return the decoded JSON body of a 2xx answer.

    Raises the crossroads error matching what went wrong; the httpx exception,
    if any, is chained as ``__cause__``. ``secrets`` are scrubbed from every message.
    """
    secrets = tuple(secrets)
    try:
        try:
            response = client.post(
                url, json=dict(payload), headers=dict(headers), timeout=timeout_s
            )
        except httpx.TimeoutException as exc:
            raise LLMTimeout(
                f"{provider} model {model!r} at {url} did not answer within {timeout_s:g} s "
                f"({type(exc).__name__}); retry, raise timeout_s, or ask for fewer tokens.",
                model=model,
            ) from exc
        except httpx.TransportError as exc:
            raise LLMConnectionError(
                f"cannot reach {provider} model {model!r} at {url}: {type(exc).__name__}: {exc}. "
                "Check base_url and that the server is running and reachable.",
                model=model,
            ) from exc
        if not response.is_success:
            raise _status_error(response, provider=provider, model=model, url=url, key_env=key_env)
        try:
            return response.json()
        except ValueError as exc:
            raise LLMResponseError(
                f"{provider} model {model!r} at {url} answered {response.status_code} with a body "
                f"that is not JSON: {_quote(response.text)}. Check that base_url points at the "
                "API root (not a web page or a proxy login).",
                model=model,
                status=response.status_code,
            ) from exc
    except LLMError as exc:
        cleaned = redact(str(exc), secrets)
        if cleaned != str(exc):
            exc.args = (cleaned,)
        raise


class ClientHolder:
    """Owns an :class:`httpx.Client` made on first use, or borrows the caller's.

    A borrowed client is never closed here; an owned one is closed by :meth:`close`.
    """

    __slots__ = ("_client", "_lock", "_owned")

    def __init__(self, client: httpx.Client | None) -> None:
        self._client = client
        self._owned = client is None
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        """The client, made on first call when none was given."""
        with self._lock:
            if self._client is None or (self._owned and self._client.is_closed):
                self._client = httpx.Client()
            return self._client

    def close(self) -> None:
        """Close the client if this holder made it."""
        with self._lock:
            if self._owned and self._client is not None:
                self._client.close()
                self._client = None


_Wire = TypeVar("_Wire", bound=BaseModel)


class HTTPChat:
    """What every HTTP chat connector shares: the model, the endpoint, the headers,
    the client it owns or borrows, reading the provider's answer, and closing the
    client (also on leaving a ``with`` block)."""

    provider = "http"
    """The name the gateway audits calls under (``<provider>:<model>``)."""
    _api_key: str | None = None

    def __init__(
        self,
        model: str,
        *,
        url: str,
        headers: Mapping[str, str],
        timeout_s: float,
        client: httpx.Client | None,
    ) -> None:
        self._model = model
        self._url = url
        self._headers: dict[str, str] = dict(headers)
        self.timeout_s = timeout_s
        self._client = ClientHolder(client)

    @property
    def model(self) -> str:
        """The model identifier sent to the provider."""
        return self._model

    @property
    def url(self) -> str:
        """The full URL requests are POSTed to."""
        return self._url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._model!r}, url={self._url!r})"

    def _read(self, wire: type[_Wire], body: Any, *, what: str, hint: str) -> _Wire:
        """``body`` as the provider's response model, or LLMResponseError saying which
        fields were wrong (``what``: "a message"; ``hint``: what to check)."""
        try:
            return wire.model_validate(body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
                for e in exc.errors()[:3]
            )
            raise LLMResponseError(
                redact(
                    f"{self.provider} model {self._model!r} at {self._url} answered 200 with JSON "
                    f"that is not {what} ({problems}). {hint}",
                    (self._api_key,),
                ),
                model=self._model,
                status=200,
            ) from exc

    def close(self) -> None:
        """Close the HTTP client this object made (a client passed in is left open)."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
