"""Redaction: secrets and configured sensitive fields never reach the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["REDACTED", "Redactor"]

REDACTED = "[REDACTED]"

# Key names that always hold secrets, matched case-insensitively on the whole key or
# on a ``_``/``-`` separated part, so ``db_password`` is caught and ``max_tokens`` is not.
_SECRET_KEYS = re.compile(
    r"(?i)(^|[_-])(pass(word|wd|phrase)?|pwd|secret|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|auth(orization)?|credentials?|cookie|session[_-]?id|bearer|"
    r"token|access[_-]?token|refresh[_-]?token|client[_-]?secret)($|[_-])"
)

# Secret-looking values, wherever they appear in a string.
_SECRET_VALUES: tuple[tuple[re.Pattern[str], str], ...] = (
    # a password in a connection URL: scheme://user:password@host. The scheme is bounded:
    # unbounded, every start inside a long run of letters/digits (hex, DNA, base32) scans
    # to the run's end, which is quadratic (40 KB took 3.6 s). A longer scheme still
    # matches, from a later start, with the same result.
    (
        re.compile(r"(?P<keep>[a-zA-Z][a-zA-Z0-9+.-]{0,31}://[^:/@\s]{1,256}:)[^@\s]{1,1024}(?=@)"),
        r"\g<keep>***",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), "Bearer " + REDACTED),
    (re.compile(r"(?i)\bbasic\s+[A-Za-z0-9+/=]{8,}"), "Basic " + REDACTED),
    # key=value connection strings: ODBC "Server=…;Password=x;", libpq "password=x"
    (re.compile(r"(?i)\b(password|pwd)\s*=\s*[^;\s'\"]{1,1024}"), r"\1=***"),
    # JSON Web Tokens
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),  # OpenAI-style keys
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]{16,}"), REDACTED),  # Anthropic keys
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), REDACTED),  # AWS access key ids
    (re.compile(r"\bdapi[0-9a-f]{32}\b"), REDACTED),  # Databricks personal access tokens
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), REDACTED),  # GitHub tokens
)

_MAX_DEPTH = 12
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


_LITERAL = re.compile(r"'(?:[^']|'')*'")


def _redact_comparison(m: re.Match[str]) -> str:
    """``ssn = '…'`` → ``ssn = '[REDACTED]'``; ``ssn IN ('a', 'b')`` → every literal."""
    if m.group(2) is not None:
        return f"{m.group(1)}{m.group(2)}{m.group(3)}'{REDACTED}'"
    return f"{m.group(1)}{m.group(4)}({_LITERAL.sub(repr(REDACTED), m.group(5))})"


class Redactor:
    """Replaces secrets and sensitive fields with ``[REDACTED]`` in anything bound for the log.

    ``fields`` names extra sensitive keys (``ssn``, ``patients.ssn`` — the part after
    the last dot is matched against keys), matched case-insensitively.
    """

    __slots__ = ("_fields", "_in_sql")

    def __init__(self, fields: Iterable[str] = ()) -> None:
        self._fields = frozenset(f.rsplit(".", 1)[-1].lower() for f in fields)
        # a sensitive field compared with literals in SQL text: ssn = '123-45-6789'
        names = "|".join(re.escape(f) for f in sorted(self._fields))
        self._in_sql = (
            re.compile(
                rf"(?i)(\b(?:{names})[\"`\]]?\s*)"
                r"(?:(=|<>|!=|\blike\b|\bglob\b)(\s*)'(?:[^']|''){0,1024}'"
                r"|(\bin\s*)\(([^)]{0,4096})\))"
            )
            if names
            else None
        )

    @property
    def fields(self) -> frozenset[str]:
        """The configured sensitive key names (lower-cased)."""
        return self._fields

    def is_sensitive_key(self, key: str) -> bool:
        """Whether values under this key are never logged (``dbPassword`` as ``db_password``)."""
        low = _CAMEL.sub("_", key).lower()
        return low in self._fields or key.lower() in self._fields or bool(_SECRET_KEYS.search(low))

    def text(self, value: str) -> str:
        """A string with secret-looking substrings, and literals compared with a sensitive
        field in SQL text, replaced."""
        for pattern, replacement in _SECRET_VALUES:
            value = pattern.sub(replacement, value)
        if self._in_sql is not None:
            value = self._in_sql.sub(_redact_comparison, value)
        return value

    def __call__(self, value: Any, _depth: int = 0) -> Any:
        """A JSON-able copy of ``value`` with secrets and sensitive fields redacted."""
        if _depth > _MAX_DEPTH:
            return "[TRUNCATED]"
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, v in value.items():
                key = str(k)
                out[key] = REDACTED if self.is_sensitive_key(key) else self(v, _depth + 1)
            return out
        if isinstance(value, list | tuple | set | frozenset):
            return [self(v, _depth + 1) for v in value]
        if isinstance(value, bytes):
            return f"<{len(value)} bytes>"
        return self.text(repr(value))
