"""The LLM gateway: budgets, rate limits, retries, fallback and audit around model calls."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from crossroads.connectors.base import LLM, Completion, Message, as_messages
from crossroads.connectors.llm._limits import Admission, Limiter, RateLimit, TokenBudget
from crossroads.errors import (
    BudgetExceeded,
    ConfigError,
    LLMError,
    LLMResponseError,
    LLMUnavailable,
)

if TYPE_CHECKING:
    from crossroads.audit import AuditLog
    from crossroads.policy import Principal

__all__ = ["LLMGateway"]


def _name(llm: LLM) -> str:
    provider = getattr(llm, "provider", None) or type(llm).__name__.lower()
    return f"{provider}:{llm.model}"


def _is_transient(exc: LLMError) -> bool:
    """Worth retrying on the same model: timeouts, 429, 5xx, unreachable endpoints."""
    return isinstance(exc, TimeoutError | ConnectionError) or (
        exc.status is not None and (exc.status >= 500 or exc.status in (408, 429))
    )


def _is_bad_output(exc: LLMError) -> bool:
    """The call went through but the answer was unusable (bad JSON, wrong shape)."""
    return isinstance(exc, LLMResponseError) and (exc.status is None or exc.status < 400)


class LLMGateway:
    """Every model call goes through here: budget, rate limit, retries, fallback, audit.

    ::

        gateway = LLMGateway(
            [OpenAIChat("gpt-4o-mini"), AnthropicChat("claude-haiku-4-5")],
            audit=AuditLog("audit.jsonl"),
            budgets={"*": 100_000, "group:analysts": 1_000_000},
            rate_limit=30,
        )
        gateway.complete("Summarise …", principal=alice).text

    Before a call the principal's token budget (``budgets``: tokens per
    ``budget_window_s``, see :class:`TokenBudget`) and request rate
    (``rate_limit``: requests per minute, see :class:`RateLimit`) are checked;
    a spent one raises :class:`~crossroads.errors.BudgetExceeded`, audited as a
    denial (rules ``llm.token_budget`` and ``llm.rate_limit``). Then the models
    are tried in order. Timeouts, 429s, 5xx answers and unreachable endpoints
    are retried ``retries`` times with exponential backoff and jitter (a
    provider's Retry-After is honoured, capped at ``max_backoff_s``); an
    unusable answer (invalid JSON, a wrong shape) is retried once; anything else
    (or exhausted retries) falls through to the next model. When every model
    failed, :class:`~crossroads.errors.LLMUnavailable` lists each one's error.
    Errors that are not LLMErrors are bugs and propagate at once.

    Each attempt is one audit span of kind ``llm`` named ``provider:model``,
    whose input holds a summary of the prompt (counts and a sha256, never the
    text) and whose end carries the tokens used; those tokens are charged to
    the principal's budget. The gateway is thread-safe.
    """

    def __init__(
        self,
        models: LLM | Sequence[LLM],
        *,
        audit: AuditLog,
        retries: int = 2,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        budgets: Mapping[str, int] | TokenBudget | None = None,
        budget_window_s: float = 86_400.0,
        rate_limit: float | RateLimit | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._models: tuple[LLM, ...] = (models,) if isinstance(models, LLM) else tuple(models)
        if not self._models:
            raise ConfigError("LLMGateway needs at least one model; pass models=[OpenAIChat(…)]")
        for m in self._models:
            if not isinstance(m, LLM):
                raise ConfigError(f"LLMGateway models must have .model and .complete(…), got {m!r}")
        if retries < 0 or backoff_s < 0 or max_backoff_s < 0:
            raise ConfigError(
                f"retries, backoff_s and max_backoff_s must not be negative, got "
                f"{retries!r}, {backoff_s!r}, {max_backoff_s!r}"
            )
        self._audit = audit
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        if budgets is not None and not isinstance(budgets, TokenBudget):
            budgets = TokenBudget(limits=budgets, window_s=budget_window_s)
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            rate_limit = RateLimit(requests_per_minute=rate_limit)
        self._limiter = Limiter(budgets, rate_limit, clock=clock)
        self._sleep = sleep
        self._random = random.Random()

    @property
    def audit(self) -> AuditLog:
        """The log every model call is written to."""
        return self._audit

    @property
    def models(self) -> tuple[LLM, ...]:
        """The fallback chain, first choice first."""
        return self._models

    @property
    def model(self) -> str:
        """The first-choice model's identifier."""
        return self._models[0].model

    def __repr__(self) -> str:
        return f"LLMGateway([{', '.join(_name(m) for m in self._models)}])"

    @property
    def budget(self) -> TokenBudget | None:
        """The per-principal token budget, if any."""
        return self._limiter.budget

    @property
    def rate_limit(self) -> RateLimit | None:
        """The per-principal request rate limit, if any."""
        return self._limiter.rate_limit

    def spent(self, principal: Principal) -> int:
        """Tokens ``principal`` has spent in its current budget window."""
        return self._limiter.spent(principal)

    def bind(self, principal: Principal) -> LLM:
        """This gateway as a plain LLM (the protocol), acting for ``principal``.

        For code that takes any LLM: its calls are governed and audited as ``principal``'s.
        """
        return _BoundGateway(self, principal)

    def complete(
        self,
        messages: str | Iterable[Message | Mapping[str, str]],
        *,
        principal: Principal,
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_schema: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Completion:
        """One chat completion for ``principal``, governed, retried, falling back, audited."""
        msgs = as_messages(messages)
        summary = _summary(msgs, max_tokens, temperature, json_schema)
        admission = self._admit(principal, summary)
        errors: list[LLMError] = []
        for llm in self._models:
            try:
                completion = self._try_model(
                    llm,
                    msgs,
                    principal,
                    summary,
                    admission if not errors else None,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    json_schema=json_schema,
                    timeout_s=timeout_s,
                )
            except LLMError as exc:
                errors.append(exc)
                continue
            self._limiter.charge(principal, completion.usage.total_tokens)
            return completion
        listing = "; ".join(
            f"{_name(m)}: {type(e).__name__}: {e}"
            for m, e in zip(self._models, errors, strict=True)
        )
        raise LLMUnavailable(
            f"every model in the chain failed ({len(errors)} tried, with up to {self.retries} "
            f"retries each): {listing}. Check the endpoints and keys, or add a fallback model.",
            errors=errors,
        ) from errors[-1]

    def _admit(self, principal: Principal, summary: Mapping[str, Any]) -> Admission | None:
        """Check budget and rate; raise BudgetExceeded (audited as a denial) when spent."""
        admission = self._limiter.admit(principal)
        if admission is None or admission.allowed:
            return admission
        name = _name(self._models[0])
        with self._audit.span("llm", name, principal, input={"model": name, **summary}) as span:
            span.decide(allowed=False, reason=admission.reason, rule=admission.rule)
            raise BudgetExceeded(
                admission.reason,
                principal=principal.id,
                securable=f"llm:{name}",
                rule=admission.rule,
            )

    # --- calling -----------------------------------------------------------------------

    def _delay(self, retry: int, exc: LLMError) -> float:
        wait = exc.retry_after
        if wait is not None:
            return min(wait, self.max_backoff_s)
        ceiling = min(self.max_backoff_s, self.backoff_s * 2.0**retry)
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    def _try_model(
        self,
        llm: LLM,
        messages: list[Message],
        principal: Principal,
        summary: Mapping[str, Any],
        admission: Admission | None,
        **kwargs: Any,
    ) -> Completion:
        transient_retries = 0
        output_retried = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(
                    llm,
                    messages,
                    principal,
                    summary,
                    admission if attempt == 1 else None,
                    attempt=attempt,
                    **kwargs,
                )
            except LLMError as exc:
                if _is_transient(exc) and transient_retries < self.retries:
                    self._sleep(self._delay(transient_retries, exc))
                    transient_retries += 1
                elif _is_bad_output(exc) and not output_retried:
                    output_retried = True
                else:
                    raise

    def _attempt(
        self,
        llm: LLM,
        messages: list[Message],
        principal: Principal,
        summary: Mapping[str, Any],
        admission: Admission | None,
        *,
        attempt: int,
        max_tokens: int | None,
        temperature: float | None,
        json_schema: Mapping[str, Any] | None,
        timeout_s: float | None,
    ) -> Completion:
        name = _name(llm)
        with self._audit.span(
            "llm", name, principal, input={"model": name, **summary, "attempt": attempt}
        ) as span:
            if admission is not None:
                span.decide(allowed=True, reason=admission.reason, rule=admission.rule)
            completion = llm.complete(
                messages,
                max_tokens=max_tokens,
                temperature=temperature,
                json_schema=json_schema,
                timeout_s=timeout_s,
            )
            if json_schema is not None and completion.data is None:
                raise LLMResponseError(
                    f"model {name!r} was asked for JSON but returned no JSON value; "
                    "retry, or use a model that supports structured output.",
                    model=llm.model,
                )
            span.end(
                result={
                    "model": completion.model,
                    "finish_reason": completion.finish_reason,
                    "chars": len(completion.text),
                    "json": completion.data is not None,
                },
                tokens=completion.usage.as_dict(),
            )
            return completion


def _summary(
    messages: Sequence[Message],
    max_tokens: int | None,
    temperature: float | None,
    json_schema: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """What the audit log keeps of a prompt: counts and a digest, never the text."""
    digest = hashlib.sha256()
    for m in messages:
        digest.update(f"{m.role}\x00{m.content}\x1e".encode())
    return {
        "messages": len(messages),
        "chars": sum(len(m.content) for m in messages),
        "prompt_sha256": digest.hexdigest(),
        "max_tokens": max_tokens,
        "temperature": temperature,
        "json": json_schema is not None,
    }


class _BoundGateway:
    """A gateway acting for one principal; satisfies the LLM protocol."""

    __slots__ = ("_gateway", "_principal")

    def __init__(self, gateway: LLMGateway, principal: Principal) -> None:
        self._gateway = gateway
        self._principal = principal

    @property
    def model(self) -> str:
        return self._gateway.model

    def __repr__(self) -> str:
        return f"{self._gateway!r}.bind({self._principal.id!r})"

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_schema: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Completion:
        return self._gateway.complete(
            messages,
            principal=self._principal,
            max_tokens=max_tokens,
            temperature=temperature,
            json_schema=json_schema,
            timeout_s=timeout_s,
        )
