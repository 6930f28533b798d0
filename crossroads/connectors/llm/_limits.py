"""Per-principal token budgets and request rate limits, and the thread-safe ledger behind them."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from crossroads.errors import ConfigError

if TYPE_CHECKING:
    from crossroads.policy import Principal

__all__ = ["Admission", "Limiter", "RateLimit", "TokenBudget"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenBudget:
    """How many tokens (prompt + completion) each principal may spend per window.

    ::

        TokenBudget(limits={"*": 50_000, "group:analysts": 200_000, "svc-batch": 10**7})

    Every principal has its own counter. The limit that applies is the one keyed
    by the principal's id (``alice`` or ``user:alice``); failing that, the largest
    among its groups (``group:NAME``); failing that, ``*``; failing that, none.
    """

    limits: Mapping[str, int]
    """Tokens per window, keyed by principal id, ``user:ID``, ``group:NAME`` or ``*``."""
    window_s: float = 86_400.0
    """Window length in seconds; a principal's window opens when it is first charged."""

    def __post_init__(self) -> None:
        for key, value in self.limits.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(
                    f"token budget must be a non-negative integer, got {value!r}",
                    key=f"budgets[{key!r}]",
                )
        if not self.window_s > 0:
            raise ConfigError(f"budget window must be positive, got {self.window_s!r} s")
        object.__setattr__(self, "limits", MappingProxyType(dict(self.limits)))

    def limit_for(self, principal: Principal) -> tuple[int, str] | None:
        """The limit that applies to ``principal`` and the key that set it, or None."""
        for key in (principal.id, f"user:{principal.id}"):
            if key in self.limits:
                return self.limits[key], key
        groups = [
            (self.limits[f"group:{g}"], f"group:{g}")
            for g in principal.groups
            if f"group:{g}" in self.limits
        ]
        if groups:
            return max(groups)
        if "*" in self.limits:
            return self.limits["*"], "*"
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """A token bucket per principal: ``requests_per_minute`` sustained, ``burst`` at once."""

    requests_per_minute: float
    """Sustained requests per minute per principal."""
    burst: int | None = None
    """Bucket size: requests allowed back to back. Default: one minute's worth (at least 1)."""

    def __post_init__(self) -> None:
        if not self.requests_per_minute > 0:
            raise ConfigError(
                f"rate limit must be a positive number of requests per minute, "
                f"got {self.requests_per_minute!r}"
            )
        if self.burst is not None and self.burst < 1:
            raise ConfigError(f"rate limit burst must be at least 1, got {self.burst!r}")

    @property
    def capacity(self) -> float:
        """The bucket size actually used."""
        return float(self.burst or max(1, math.floor(self.requests_per_minute)))


@dataclass(slots=True)
class _Window:
    start: float
    spent: int = 0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    last: float


def _duration(seconds: float) -> str:
    seconds = max(0, math.ceil(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h} h" if h else "", f"{m} min" if m else "", f"{s} s" if s and not h else ""]
    return " ".join(p for p in parts if p) or "0 s"


@dataclass(frozen=True, slots=True)
class Admission:
    """Whether a call may go ahead, why, and under which rules (``llm.token_budget`` …)."""

    allowed: bool
    """True when the call may go ahead."""
    reason: str
    """A sentence for the audit log and the error message."""
    rule: str
    """The rule(s) that decided, comma-separated."""


class Limiter:
    """The ledger: tokens spent per principal per window, and a request bucket per principal.

    ``clock`` is monotonic seconds (injectable for tests). Thread-safe.
    """

    def __init__(
        self,
        budget: TokenBudget | None,
        rate_limit: RateLimit | None,
        *,
        clock: Callable[[], float],
    ) -> None:
        self.budget = budget
        self.rate_limit = rate_limit
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._buckets: dict[str, _Bucket] = {}

    def _window(self, pid: str, now: float) -> _Window | None:
        window = self._windows.get(pid)
        if window is not None and self.budget and now >= window.start + self.budget.window_s:
            del self._windows[pid]
            return None
        return window

    def spent(self, principal: Principal) -> int:
        """Tokens ``principal`` has spent in its current window."""
        with self._lock:
            window = self._window(principal.id, self._clock())
            return window.spent if window else 0

    def admit(self, principal: Principal) -> Admission | None:
        """Check the budget, then take a request from the bucket. None when no limit applies."""
        reasons: list[str] = []
        rules: list[str] = []
        with self._lock:
            now = self._clock()
            limit = self.budget.limit_for(principal) if self.budget else None
            if limit is not None and self.budget is not None:
                tokens, key = limit
                window = self._window(principal.id, now)
                spent = window.spent if window else 0
                if tokens == 0:
                    return Admission(
                        False,
                        f"principal {principal.id!r} has a model token budget of 0 "
                        f"(budgets[{key!r}]), so it may not call a model; ask an administrator "
                        f"to raise budgets[{key!r}].",
                        "llm.token_budget",
                    )
                if spent >= tokens:
                    resets = window.start + self.budget.window_s - now if window else 0.0
                    return Admission(
                        False,
                        f"principal {principal.id!r} has spent {spent:,} of its {tokens:,} model "
                        f"tokens for this {_duration(self.budget.window_s)} window (limit "
                        f"budgets[{key!r}]); the budget resets in {_duration(resets)}. Wait, or "
                        f"ask an administrator to raise budgets[{key!r}].",
                        "llm.token_budget",
                    )
                reasons.append(f"{spent:,} of {tokens:,} tokens spent (budgets[{key!r}])")
                rules.append("llm.token_budget")
            if self.rate_limit is not None:
                rpm = self.rate_limit.requests_per_minute
                capacity = self.rate_limit.capacity
                bucket = self._buckets.setdefault(principal.id, _Bucket(capacity, now))
                bucket.tokens = min(capacity, bucket.tokens + (now - bucket.last) * rpm / 60.0)
                bucket.last = now
                if bucket.tokens < 1.0:
                    return Admission(
                        False,
                        f"principal {principal.id!r} has reached the limit of {rpm:g} model "
                        f"requests per minute; retry in "
                        f"{_duration((1.0 - bucket.tokens) * 60.0 / rpm)}, or ask an "
                        "administrator to raise rate_limit.",
                        "llm.rate_limit",
                    )
                bucket.tokens -= 1.0
                reasons.append(f"within {rpm:g} requests per minute")
                rules.append("llm.rate_limit")
        return Admission(True, "; ".join(reasons), ", ".join(rules)) if reasons else None

    def charge(self, principal: Principal, tokens: int) -> None:
        """Add ``tokens`` to ``principal``'s current window (opening one if needed)."""
        with self._lock:
            now = self._clock()
            window = self._window(principal.id, now)
            if window is None:
                window = self._windows[principal.id] = _Window(start=now)
            window.spent += tokens
