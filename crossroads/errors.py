"""Every error crossroads raises, under one root.

::

    CrossroadsError
    ├── ConfigError (ValueError)            bad configuration: file, line, key
    ├── PolicyViolation (PermissionError)   a denial: principal, securable, rule
    │   └── BudgetExceeded                  a per-principal token or rate budget is spent
    ├── MissingDependency (ImportError)     an optional extra is not installed
    ├── ToolError                           a tool failed while running
    │   ├── ToolNotFound (LookupError)      no tool of that name is registered
    │   ├── ToolInvocationError             a tool was called around the runner
    │   ├── CannotAnswer                    a route found no grounded answer (fall back)
    │   │   └── AmbiguousEntity             a mention names several nodes: the candidates
    │   └── SQLError                        the database refused or failed a statement
    │       └── SQLTimeout (TimeoutError)   the statement ran past its time limit
    ├── ConnectorError (ConnectionError)    a backend could not be reached
    ├── LLMError                            a language-model call failed
    │   ├── LLMConnectionError (ConnectionError)  the endpoint could not be reached
    │   ├── LLMTimeout (TimeoutError)       no answer within the time limit
    │   ├── LLMRateLimited                  the provider answered 429 until retries ran out
    │   ├── LLMResponseError                the provider answered with something unusable
    │   └── LLMUnavailable                  every model in the fallback chain failed
    └── AuditError                          the audit log could not be written or read
        └── AuditIntegrityError             the hash chain is broken or a line is torn

Messages say what happened, why, and what to do. Backend exceptions are
translated at the boundary with ``raise ... from``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AmbiguousEntity",
    "AuditError",
    "AuditIntegrityError",
    "BudgetExceeded",
    "CannotAnswer",
    "ConfigError",
    "ConnectorError",
    "CrossroadsError",
    "LLMConnectionError",
    "LLMError",
    "LLMRateLimited",
    "LLMResponseError",
    "LLMTimeout",
    "LLMUnavailable",
    "MissingDependency",
    "PolicyViolation",
    "SQLError",
    "SQLTimeout",
    "ToolError",
    "ToolInvocationError",
    "ToolNotFound",
]


class CrossroadsError(Exception):
    """The root of every error crossroads raises."""


class ConfigError(CrossroadsError, ValueError):
    """Bad configuration: a policy file, a workflow, a constructor argument.

    ``file`` and ``line`` say where (when the configuration came from a file),
    ``key`` the dotted path of the offending entry (``row_filters[0].where``).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.reason = message
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        elif line is not None:
            where = f"line {line}: "
        at = f"{key}: " if key else ""
        super().__init__(f"{where}{at}{message}")


class PolicyViolation(CrossroadsError, PermissionError):
    """A principal was denied: no grant, a missing attribute, a forbidden construct.

    ``principal`` is the principal's id, ``securable`` what was asked for
    (``table:sales``), ``rule`` the rule that decided (``default deny``,
    ``sql.read_only`` …) and ``privilege`` the privilege that was needed.
    """

    def __init__(
        self,
        message: str,
        *,
        principal: str,
        securable: str,
        rule: str,
        privilege: str | None = None,
    ) -> None:
        self.principal = principal
        self.securable = securable
        self.rule = rule
        self.privilege = privilege
        self.reason = message
        super().__init__(message)


class BudgetExceeded(PolicyViolation):
    """A per-principal budget (tokens, requests per minute) is spent."""


class MissingDependency(CrossroadsError, ImportError):
    """An optional extra is needed; the message carries the exact ``pip install`` line."""

    def __init__(self, feature: str, extra: str, packages: Sequence[str]) -> None:
        self.feature = feature
        self.extra = extra
        super().__init__(
            f"{feature} needs {', '.join(packages)}, which is not installed. "
            f"Install it with: pip install 'crossroads[{extra}]'"
        )


class ToolError(CrossroadsError):
    """A tool failed while running (not a denial: that is PolicyViolation)."""

    def __init__(self, message: str, *, tool: str | None = None) -> None:
        self.tool = tool
        super().__init__(message)


class ToolNotFound(ToolError, LookupError):
    """No tool of that name is registered with the runner."""


class ToolInvocationError(ToolError):
    """A tool was invoked without an authorisation issued by the runner."""


class CannotAnswer(ToolError):
    """A route could not produce a grounded answer: no query could be built from the
    question, no document is relevant, no path links the entities. Not a failure of the
    system: the router falls back to the runner-up route. ``reason`` says why."""

    def __init__(self, message: str, *, tool: str | None = None, reason: str = "") -> None:
        self.reason = reason or message
        super().__init__(message, tool=tool)


class AmbiguousEntity(CannotAnswer):
    """A mention in the question names several entities equally well. ``mention`` is the
    text, ``candidates`` the node ids it could mean: ask again naming one of them."""

    def __init__(
        self,
        message: str,
        *,
        mention: str,
        candidates: Sequence[str],
        tool: str | None = None,
    ) -> None:
        self.mention = mention
        self.candidates = tuple(candidates)
        super().__init__(message, tool=tool, reason="ambiguous entity")


class SQLError(ToolError):
    """The database refused or failed a statement. ``sql`` is the statement."""

    def __init__(self, message: str, *, sql: str | None = None, tool: str | None = None) -> None:
        self.sql = sql
        super().__init__(message, tool=tool)


class SQLTimeout(SQLError, TimeoutError):
    """A statement ran past its time limit and was cancelled."""


class ConnectorError(CrossroadsError, ConnectionError):
    """A backend (database, graph store, HTTP endpoint) could not be reached."""


class LLMError(CrossroadsError):
    """A language-model call failed. ``model`` and ``status`` say which and how;
    ``retry_after`` is the wait in seconds the provider asked for, when it did."""

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.model = model
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class LLMConnectionError(LLMError, ConnectionError):
    """The model's endpoint could not be reached (refused, reset, DNS, TLS). Retryable."""


class LLMTimeout(LLMError, TimeoutError):
    """The model did not answer within the time limit."""


class LLMRateLimited(LLMError):
    """The provider kept answering 429 (rate limited) until retries ran out."""


class LLMResponseError(LLMError):
    """The provider answered with something unusable: bad JSON, a wrong shape, an error body."""


class LLMUnavailable(LLMError):
    """Every model in the fallback chain failed; ``errors`` holds each one's error."""

    def __init__(self, message: str, *, errors: Sequence[LLMError] = ()) -> None:
        self.errors = tuple(errors)
        super().__init__(message)


class AuditError(CrossroadsError):
    """The audit log could not be written or read. No result is returned unaudited."""


class AuditIntegrityError(AuditError):
    """The audit chain is broken (tampering) or its last line is torn (a crash mid-write).

    ``path`` is the log, ``line`` the 1-based line (or sequence number for a SQL
    sink) of the first bad event, ``event_id`` its id when it could be read.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        event_id: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.event_id = event_id
        super().__init__(message)
