"""Redaction: secrets and configured sensitive fields never reach the audit log."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from crossroads.audit import (
    REDACTED,
    AuditLog,
    AuditSink,
    JSONLSink,
    Redactor,
    SQLSink,
    verify_jsonl,
)
from crossroads.errors import ToolError
from crossroads.policy._principal import Principal

SECRET_KEYS = [
    "password",
    "PASSWORD",
    "passwd",
    "passphrase",
    "db_password",
    "api_key",
    "apiKey",
    "x-api-key",
    "Authorization",
    "client_secret",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "private_key",
    "aws_access_key",
    "credentials",
    "cookie",
    "session_id",
]

ORDINARY_KEYS = [
    "max_tokens",
    "tokens",
    "total_tokens",
    "tokenizer",
    "author",
    "authority",
    "passenger",
    "compass",
    "secretary",
    "session",
    "keyword",
    "description",
    "ssn_last4",  # configured fields match whole keys only
]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_keys_are_redacted(key: str) -> None:
    redactor = Redactor()
    assert redactor.is_sensitive_key(key)
    assert redactor({key: "value", "other": "kept"}) == {key: REDACTED, "other": "kept"}


@pytest.mark.parametrize("key", ORDINARY_KEYS)
def test_ordinary_keys_are_kept(key: str) -> None:
    redactor = Redactor(["ssn"])
    assert not redactor.is_sensitive_key(key)
    assert redactor({key: 128}) == {key: 128}


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        (["ssn"], "ssn"),
        (["ssn"], "SSN"),
        (["patients.ssn"], "ssn"),
        (["Patients.DOB"], "dob"),
        (["main.patients.ssn"], "Ssn"),
    ],
)
def test_configured_fields_match_the_last_name_part(fields: list[str], key: str) -> None:
    redactor = Redactor(fields)
    assert redactor({key: "123-45-6789"}) == {key: REDACTED}
    assert redactor.fields == frozenset(f.rsplit(".", 1)[-1].lower() for f in fields)


AKIA = "AKIA" + "IOSFODNN7EXAMPLE"
OPENAI = "sk-" + "proj" + "A1b2C3d4E5f6G7h8I9j0"
ANTHROPIC = "sk-ant-" + "api03-" + "A1b2C3d4E5f6G7h8I9j0"
GITHUB = "ghp_" + "a" * 36
DATABRICKS = "dapi" + "0123456789abcdef" * 2

VALUES = {
    "postgres URL": ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
    "driver URL": (
        "connect to postgresql+psycopg://admin:s3cr3t!@db.internal:5432/prod now",
        "connect to postgresql+psycopg://admin:***@db.internal:5432/prod now",
    ),
    "long scheme": ("x" * 40 + "://u:pw@h", "x" * 40 + "://u:***@h"),
    "URL without password": ("https://example.com/a:b", "https://example.com/a:b"),
    "bearer": ("Authorization: Bearer abc.DEF-123_456", f"Authorization: Bearer {REDACTED}"),
    "short bearer": ("bearer abc", "bearer abc"),
    "openai key": (f"key={OPENAI}", f"key={REDACTED}"),
    "anthropic key": (ANTHROPIC, REDACTED),
    "aws key id": (f"id {AKIA} used", f"id {REDACTED} used"),
    "github token": (GITHUB, REDACTED),
    "databricks token": (DATABRICKS, REDACTED),
    "no key inside a word": ("task-skilled-workers", "task-skilled-workers"),
    "plain text": ("How many adverse events in 2024?", "How many adverse events in 2024?"),
}


@pytest.mark.parametrize(("value", "expected"), list(VALUES.values()), ids=list(VALUES))
def test_secret_values_are_redacted_wherever_they_appear(value: str, expected: str) -> None:
    redactor = Redactor()
    assert redactor.text(value) == expected
    assert redactor({"note": value}) == {"note": expected}


def test_nested_structures_are_redacted_all_the_way_down() -> None:
    redactor = Redactor(["patients.ssn"])
    value = {
        "query": {"filters": [{"ssn": "123-45-6789"}, {"name": "Ann"}]},
        "headers": ({"Authorization": "Basic xyz"}, f"Bearer {'t' * 20}"),
        "tags": {"postgresql://u:pw@h/db"},
        "raw": b"\x00\x01\x02",
        "n": 3,
        "ratio": 0.5,
        "ok": True,
        "missing": None,
        7: "int key",
        "obj": Path("/etc/sk-" + "z" * 20),
    }
    assert redactor(value) == {
        "query": {"filters": [{"ssn": REDACTED}, {"name": "Ann"}]},
        "headers": [{"Authorization": REDACTED}, f"Bearer {REDACTED}"],
        "tags": ["postgresql://u:***@h/db"],
        "raw": "<3 bytes>",
        "n": 3,
        "ratio": 0.5,
        "ok": True,
        "missing": None,
        "7": "int key",
        "obj": f"PosixPath('/etc/{REDACTED}')",
    }


def test_deep_nesting_is_truncated() -> None:
    value: object = "leaf"
    for _ in range(20):
        value = {"d": value}
    out = Redactor()(value)
    depth = 0
    while isinstance(out, dict):
        out = out["d"]
        depth += 1
    assert (depth, out) == (13, "[TRUNCATED]")


@pytest.mark.parametrize("alphabet", ["ACGT", "0123456789abcdef", "x"])
def test_long_runs_of_letters_are_redacted_in_linear_time(alphabet: str) -> None:
    """A DNA sequence or a hex blob in a tool's input used to take quadratic time in
    the URL pattern (40 KB: 3.6 s, 300 KB: minutes) on every audit event."""
    blob = (alphabet * (300_000 // len(alphabet) + 1))[:300_000]
    start = time.perf_counter()
    assert Redactor().text(blob) == blob
    assert time.perf_counter() - start < 2.0  # linear takes ~0.1 s; quadratic, minutes


# -- end to end: what reaches the disk ------------------------------------------------

SECRETS = {
    "password": "hunter2-correct-horse",
    "ssn": "123-45-6789",
    "url password": "Pg-pa55word",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.payload.signature",
    "key in an error": OPENAI,
    "attribute": "top-secret-clearance",
}


def _failing_call(log: AuditLog, principal: Principal) -> None:
    """A tool call with secrets in its input, its decision and its error."""
    with log.span(
        "tool",
        "sql.query",
        principal,
        input={
            "question": "list patients",
            "password": SECRETS["password"],
            "patient": {"SSN": SECRETS["ssn"], "name": "Ann"},
            "dsn": f"postgresql://svc:{SECRETS['url password']}@db/prod",
        },
    ) as span:
        span.decide(
            allowed=True,
            reason=f"token checked: Bearer {SECRETS['bearer']}",
            policy={"connection": {"password": SECRETS["password"]}},
        )
        raise ToolError(f"login failed with key {SECRETS['key in an error']}")


def test_secrets_never_reach_the_files(tmp_path: Path) -> None:
    jsonl = tmp_path / "audit.jsonl"
    db = tmp_path / "audit.db"
    alice = Principal("alice", attributes={"clearance": SECRETS["attribute"]})
    sinks: list[AuditSink] = [JSONLSink(jsonl, durability="flush"), SQLSink(f"sqlite:///{db}")]
    with AuditLog(sinks, redact=["ssn"]) as log:
        with pytest.raises(ToolError, match="login failed"):
            _failing_call(log, alice)
        assert log.verify().ok  # redaction happens before hashing

    for path in (jsonl, db):
        raw = path.read_bytes()
        assert raw  # something was written
        for what, secret in SECRETS.items():
            assert secret.encode() not in raw, f"{what} leaked into {path.name}"
    text = jsonl.read_text()
    assert REDACTED in text
    assert "postgresql://svc:***@db/prod" in text
    assert '"name":"Ann"' in text  # only the sensitive parts are gone
    assert verify_jsonl(jsonl).events == 3


@pytest.mark.parametrize(
    ("key", "hidden"),
    [("dbPassword", True), ("authToken", True), ("secretKey", True), ("sessionToken", True),
     ("pwd", True), ("maxTokens", False), ("author", False)],
)  # fmt: skip
def test_camel_case_and_short_secret_keys(key: str, hidden: bool) -> None:
    from crossroads.audit import REDACTED, Redactor

    assert (Redactor()({key: "v"})[key] == REDACTED) is hidden


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Server=db;Password=hunter2;Uid=sa", "hunter2"),
        ("host=x password=hunter2 dbname=y", "hunter2"),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXBhcnQ", "eyJzdWIiOiIxMjM0In0"),
        ("SELECT * FROM p WHERE ssn = '123-45-6789'", "123-45-6789"),
        ("SELECT * FROM p WHERE p.\"ssn\" IN ('123-45-6789', '987-65-4321')", "987-65-4321"),
    ],
)
def test_connection_strings_tokens_and_sensitive_literals(text: str, secret: str) -> None:
    from crossroads.audit import Redactor

    assert secret not in Redactor(["ssn"]).text(text)
