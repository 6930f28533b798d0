"""LLMGateway: budgets, rate limits, retries, fallback and audit, over the real HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from fake_server import (
    SECRET,
    FakeLLMServer,
    Reply,
    Sleeps,
    anthropic_reply,
    error_reply,
    openai_reply,
)

from crossroads.audit import AuditEvent, AuditLog
from crossroads.connectors.base import LLM, Message
from crossroads.connectors.llm import (
    AnthropicChat,
    LLMConnectionError,
    LLMGateway,
    OpenAIChat,
    RateLimit,
    ScriptedLLM,
    TokenBudget,
)
from crossroads.errors import (
    BudgetExceeded,
    ConfigError,
    LLMError,
    LLMRateLimited,
    LLMResponseError,
    LLMTimeout,
    LLMUnavailable,
)
from crossroads.policy import Principal

PROMPT = [Message("system", "be brief"), Message("user", "the launch code is swordfish-42")]


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def claude(server: FakeLLMServer) -> Iterator[AnthropicChat]:
    """A second model on the same fake server, for fallback."""
    with AnthropicChat("claude-test", base_url=server.url, api_key=SECRET, timeout_s=5) as llm:
        yield llm


def spans(audit: AuditLog) -> list[list[AuditEvent]]:
    """Events grouped by span, in order."""
    out: dict[str, list[AuditEvent]] = {}
    for e in audit.events():
        out.setdefault(e.span_id, []).append(e)
    return list(out.values())


def stages(audit: AuditLog) -> list[tuple[str, str]]:
    return [(e.name, e.stage) for e in audit.events()]


def test_success_is_audited_with_tokens_and_principal(
    server: FakeLLMServer, openai: OpenAIChat, audit: AuditLog, alice: Principal, sleeps: Sleeps
) -> None:
    server.script(openai_reply("hi", prompt_tokens=11, completion_tokens=7))
    gateway = LLMGateway(openai, audit=audit, sleep=sleeps)

    out = gateway.complete(PROMPT, principal=alice, max_tokens=20, temperature=0.0)

    assert out.text == "hi"
    start, end = audit.events()
    assert (start.kind, start.name, start.stage) == ("llm", "openai:gpt-test", "start")
    assert start.principal == {"id": "alice", "groups": ["analysts"]}
    assert start.input is not None
    assert start.input["messages"] == 2
    assert start.input["chars"] == len("be brief") + len("the launch code is swordfish-42")
    assert len(start.input["prompt_sha256"]) == 64
    assert (start.input["max_tokens"], start.input["temperature"]) == (20, 0.0)
    assert (start.input["json"], start.input["attempt"]) == (False, 1)
    assert (end.stage, end.span_id) == ("end", start.span_id)
    assert end.tokens == {"prompt": 11, "completion": 7, "total": 18}
    assert end.result is not None
    assert end.result["finish_reason"] == "stop"
    assert "swordfish" not in json.dumps([e.to_dict() for e in audit.events()])
    assert gateway.spent(alice) == 18
    assert sleeps == []


def test_a_prompt_string_is_accepted(audit: AuditLog, alice: Principal) -> None:
    llm = ScriptedLLM(["ok"])
    assert LLMGateway(llm, audit=audit).complete("hello", principal=alice).text == "ok"
    assert llm.calls == [[Message("user", "hello")]]


def test_429_with_retry_after_then_success(
    server: FakeLLMServer, openai: OpenAIChat, audit: AuditLog, alice: Principal, sleeps: Sleeps
) -> None:
    server.script(error_reply(429, "slow down", retry_after="1.5"), openai_reply("done"))
    gateway = LLMGateway(openai, audit=audit, sleep=sleeps)

    assert gateway.complete(PROMPT, principal=alice).text == "done"

    assert sleeps == [1.5]
    first, second = spans(audit)
    assert [e.stage for e in first] == ["start", "error"]
    assert first[1].error is not None
    assert first[1].error["type"] == "LLMRateLimited"
    assert [e.stage for e in second] == ["start", "end"]
    assert second[0].input is not None
    assert second[0].input["attempt"] == 2


def test_retry_after_is_capped(
    server: FakeLLMServer, openai: OpenAIChat, audit: AuditLog, alice: Principal, sleeps: Sleeps
) -> None:
    server.script(error_reply(429, "slow down", retry_after="3600"), openai_reply())
    LLMGateway(openai, audit=audit, sleep=sleeps, max_backoff_s=2.0).complete(
        PROMPT, principal=alice
    )
    assert sleeps == [2.0]


def test_429_forever_falls_back_to_the_next_model(
    server: FakeLLMServer,
    openai: OpenAIChat,
    claude: AnthropicChat,
    audit: AuditLog,
    alice: Principal,
    sleeps: Sleeps,
) -> None:
    server.script(
        *[error_reply(429, "quota", retry_after="0.25")] * 3,
        anthropic_reply("from claude", input_tokens=4, output_tokens=2),
    )
    gateway = LLMGateway([openai, claude], audit=audit, sleep=sleeps, retries=2)

    out = gateway.complete(PROMPT, principal=alice)

    assert out.text == "from claude"
    assert sleeps == [0.25, 0.25]
    assert [r.path for r in server.requests] == ["/v1/chat/completions"] * 3 + ["/v1/messages"]
    assert stages(audit) == [("openai:gpt-test", "start"), ("openai:gpt-test", "error")] * 3 + [
        ("anthropic:claude-test", "start"),
        ("anthropic:claude-test", "end"),
    ]
    assert audit.events()[-1].tokens == {"prompt": 4, "completion": 2, "total": 6}
    assert gateway.spent(alice) == 6


def test_500_then_success_backs_off_with_jitter(
    server: FakeLLMServer, openai: OpenAIChat, audit: AuditLog, alice: Principal, sleeps: Sleeps
) -> None:
    server.script(Reply(status=500, body="boom"), Reply(status=502, body=""), openai_reply("ok"))
    gateway = LLMGateway(openai, audit=audit, sleep=sleeps, backoff_s=0.5, retries=2)

    assert gateway.complete(PROMPT, principal=alice).text == "ok"

    first, second = sleeps
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0


def test_backoff_is_capped(audit: AuditLog, alice: Principal, sleeps: Sleeps) -> None:
    errors = [LLMError("down", model="m", status=503) for _ in range(6)]
    gateway = LLMGateway(
        ScriptedLLM([*errors, "ok"]), audit=audit, sleep=sleeps, retries=6, max_backoff_s=3.0
    )
    gateway.complete(PROMPT, principal=alice)
    assert len(sleeps) == 6
    assert all(s <= 3.0 for s in sleeps)
    assert sleeps[-1] >= 1.5


def test_timeout_is_retried(
    server: FakeLLMServer, audit: AuditLog, alice: Principal, sleeps: Sleeps
) -> None:
    server.script(Reply(delay_s=2.0, body=openai_reply().body), openai_reply("second try"))
    with OpenAIChat("gpt-test", base_url=server.url, api_key=SECRET, timeout_s=0.2) as llm:
        out = LLMGateway(llm, audit=audit, sleep=sleeps).complete(PROMPT, principal=alice)
    assert out.text == "second try"
    assert len(sleeps) == 1
    failed = audit.events()[1]
    assert failed.error is not None
    assert failed.error["type"] == "LLMTimeout"


def test_connection_refused_is_retried_then_falls_back(
    closed_port: int, audit: AuditLog, alice: Principal, sleeps: Sleeps
) -> None:
    backup = ScriptedLLM(["backup"], model="backup")
    with OpenAIChat("gpt-test", base_url=f"http://127.0.0.1:{closed_port}") as down:
        gateway = LLMGateway([down, backup], audit=audit, sleep=sleeps, retries=1)
        assert gateway.complete(PROMPT, principal=alice).text == "backup"
    assert len(sleeps) == 1
    assert [e.error["type"] for e in audit.events() if e.error] == ["LLMConnectionError"] * 2


def test_non_retryable_errors_fall_back_at_once(
    server: FakeLLMServer,
    openai: OpenAIChat,
    claude: AnthropicChat,
    audit: AuditLog,
    alice: Principal,
    sleeps: Sleeps,
) -> None:
    server.script(error_reply(400, "bad parameter"), anthropic_reply("fine"))
    gateway = LLMGateway([openai, claude], audit=audit, sleep=sleeps)
    assert gateway.complete(PROMPT, principal=alice).text == "fine"
    assert sleeps == []
    assert len(server.requests) == 2


def test_unparseable_json_is_retried_once_then_falls_back(
    audit: AuditLog, alice: Principal, sleeps: Sleeps
) -> None:
    flaky = ScriptedLLM(["not json", "still not json", '{"never": "reached"}'], model="flaky")
    good = ScriptedLLM(['{"route": "sql"}'], model="good")
    gateway = LLMGateway([flaky, good], audit=audit, sleep=sleeps)

    out = gateway.complete(PROMPT, principal=alice, json_schema={"type": "object"})

    assert out.data == {"route": "sql"}
    assert len(flaky.calls) == 2
    assert flaky.remaining == 1
    assert sleeps == []
    names = [(e.name, e.stage) for e in audit.events() if e.stage != "start"]
    assert names == [
        ("scripted:flaky", "error"),
        ("scripted:flaky", "error"),
        ("scripted:good", "end"),
    ]


def test_unparseable_json_from_the_wire_then_good(
    server: FakeLLMServer, openai: OpenAIChat, audit: AuditLog, alice: Principal, sleeps: Sleeps
) -> None:
    server.script(openai_reply("{oops"), openai_reply('{"ok": true}'))
    out = LLMGateway(openai, audit=audit, sleep=sleeps).complete(
        PROMPT, principal=alice, json_schema={"type": "object"}
    )
    assert out.data == {"ok": True}
    failed = audit.events()[1]
    assert failed.error is not None
    assert failed.error["type"] == "LLMResponseError"


def test_every_model_failing_raises_unavailable_listing_each(
    server: FakeLLMServer, openai: OpenAIChat, audit: AuditLog, alice: Principal, sleeps: Sleeps
) -> None:
    server.script(error_reply(401, f"bad key {SECRET}"))
    timeouts = ScriptedLLM([LLMTimeout("no answer", model="s")] * 3, model="slow")
    gateway = LLMGateway([openai, timeouts], audit=audit, sleep=sleeps)

    with pytest.raises(LLMUnavailable) as info:
        gateway.complete(PROMPT, principal=alice)

    err = info.value
    assert [type(e) for e in err.errors] == [LLMError, LLMTimeout]
    assert "openai:gpt-test: LLMError" in str(err)
    assert "scripted:slow: LLMTimeout: no answer" in str(err)
    assert err.__cause__ is err.errors[-1]
    assert len(sleeps) == 2
    assert gateway.spent(alice) == 0


def test_bugs_propagate_at_once(audit: AuditLog, alice: Principal) -> None:
    backup = ScriptedLLM(["unused"])
    gateway = LLMGateway([ScriptedLLM([ValueError("a bug")]), backup], audit=audit)
    with pytest.raises(ValueError, match="a bug"):
        gateway.complete(PROMPT, principal=alice)
    assert backup.calls == []
    assert audit.events()[-1].error == {"type": "ValueError", "message": "a bug"}


def test_token_budget_is_enforced_and_audited(
    audit: AuditLog, alice: Principal, clock: Clock
) -> None:
    llm = ScriptedLLM(["x" * 40] * 3)  # 10 completion tokens + prompt tokens each
    gateway = LLMGateway(llm, audit=audit, budgets={"alice": 20}, budget_window_s=3600, clock=clock)
    gateway.complete("hi", principal=alice)  # 1 + 10
    gateway.complete("hi", principal=alice)  # 22 >= 20 now
    assert gateway.spent(alice) == 22
    clock.now += 600

    with pytest.raises(BudgetExceeded, match="resets in 50 min") as info:
        gateway.complete("hi", principal=alice)

    err = info.value
    assert isinstance(err, PermissionError)
    assert (err.principal, err.rule, err.securable) == (
        "alice",
        "llm.token_budget",
        "llm:scripted:scripted",
    )
    assert "22 of its 20" in str(err)
    assert len(llm.calls) == 2
    start, decision, error = spans(audit)[-1]
    assert (start.stage, decision.stage, error.stage) == ("start", "decision", "error")
    assert decision.kind == "policy"
    assert decision.decision is not None
    assert (decision.decision.allowed, decision.decision.rule) == (False, "llm.token_budget")
    assert decision.principal["id"] == "alice"
    assert error.error is not None
    assert error.error["type"] == "BudgetExceeded"

    clock.now += 3000  # the window has passed
    assert gateway.complete("hi", principal=alice).text == "x" * 40
    assert gateway.spent(alice) == 11


def test_a_zero_budget_denies_outright(audit: AuditLog) -> None:
    gateway = LLMGateway(ScriptedLLM(["unused"]), audit=audit, budgets={"group:interns": 0})
    with pytest.raises(BudgetExceeded, match=r"budget of 0 \(budgets\['group:interns'\]\)"):
        gateway.complete("hi", principal=Principal("ivan", groups=["interns"]))


def test_allowed_calls_record_the_decision(audit: AuditLog, alice: Principal) -> None:
    gateway = LLMGateway(ScriptedLLM(["ok"]), audit=audit, budgets={"*": 100}, rate_limit=10)
    gateway.complete("hi", principal=alice)
    decision = audit.events()[1]
    assert decision.decision is not None
    assert decision.decision.allowed
    assert decision.decision.rule == "llm.token_budget, llm.rate_limit"
    assert "0 of 100 tokens" in decision.decision.reason


def test_budgets_are_per_principal_and_resolved_by_key() -> None:
    budget = TokenBudget(limits={"*": 10, "group:analysts": 100, "group:big": 1000, "bob": 5})
    assert budget.limit_for(Principal("bob", groups=["big"])) == (5, "bob")
    assert budget.limit_for(Principal("eve", groups=["analysts", "big"])) == (1000, "group:big")
    assert budget.limit_for(Principal("carol")) == (10, "*")
    assert TokenBudget(limits={"user:dan": 1}).limit_for(Principal("dan")) == (1, "user:dan")
    assert TokenBudget(limits={"bob": 1}).limit_for(Principal("carol")) is None


def test_one_principals_spending_does_not_block_another(audit: AuditLog) -> None:
    gateway = LLMGateway(ScriptedLLM(["x" * 400] * 2), audit=audit, budgets={"*": 50})
    gateway.complete("hi", principal=Principal("a"))
    gateway.complete("hi", principal=Principal("b"))
    with pytest.raises(BudgetExceeded):
        gateway.complete("hi", principal=Principal("a"))


def test_rate_limit(audit: AuditLog, alice: Principal, clock: Clock) -> None:
    gateway = LLMGateway(ScriptedLLM(["ok"] * 3), audit=audit, rate_limit=2, clock=clock)
    gateway.complete("1", principal=alice)
    gateway.complete("2", principal=alice)
    with pytest.raises(BudgetExceeded, match="2 model requests per minute; retry in 30 s") as info:
        gateway.complete("3", principal=alice)
    assert info.value.rule == "llm.rate_limit"
    decision = spans(audit)[-1][1].decision
    assert decision is not None
    assert (decision.allowed, decision.rule) == (False, "llm.rate_limit")
    clock.now += 30
    assert gateway.complete("3", principal=alice).text == "ok"


def test_rate_limit_burst() -> None:
    assert RateLimit(requests_per_minute=0.5).capacity == 1.0
    assert RateLimit(requests_per_minute=60, burst=5).capacity == 5.0


def test_the_api_key_never_leaks(
    server: FakeLLMServer,
    openai: OpenAIChat,
    claude: AnthropicChat,
    audit: AuditLog,
    alice: Principal,
    sleeps: Sleeps,
) -> None:
    server.script(
        error_reply(401, f"Incorrect API key provided: {SECRET}"),
        error_reply(400, f"header x-api-key={SECRET} is malformed"),
    )
    gateway = LLMGateway([openai, claude], audit=audit, sleep=sleeps)
    with pytest.raises(LLMUnavailable) as info:
        gateway.complete(PROMPT, principal=alice)
    messages = [str(info.value), *(str(e) for e in info.value.errors), repr(gateway)]
    assert all(SECRET not in m for m in messages)
    assert "[REDACTED]" in str(info.value)
    assert SECRET not in json.dumps([e.to_dict() for e in audit.events()])


def test_bind_gives_a_plain_llm(audit: AuditLog, alice: Principal) -> None:
    gateway = LLMGateway(ScriptedLLM(["ok"], model="m"), audit=audit)
    bound = gateway.bind(alice)
    assert isinstance(bound, LLM)
    assert bound.model == "m"
    assert bound.complete([Message("user", "hi")], max_tokens=5).text == "ok"
    start = audit.events()[0]
    assert start.principal["id"] == "alice"
    assert start.input is not None
    assert start.input["max_tokens"] == 5


def test_concurrent_calls_are_charged_exactly(audit: AuditLog, alice: Principal) -> None:
    n = 40
    gateway = LLMGateway(ScriptedLLM(["x" * 8] * n), audit=audit, budgets={"*": 10**6})
    threads = [
        threading.Thread(target=gateway.complete, args=("abcd",), kwargs={"principal": alice})
        for _ in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gateway.spent(alice) == n * 3
    assert len(audit.events()) == n * 3  # start, allow decision, end
    assert audit.verify().ok


def test_bad_configuration_is_refused(audit: AuditLog) -> None:
    with pytest.raises(ConfigError, match="at least one model"):
        LLMGateway([], audit=audit)
    with pytest.raises(ConfigError, match=r"must have \.model"):
        LLMGateway(["gpt-4o"], audit=audit)  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="must not be negative"):
        LLMGateway(ScriptedLLM([]), audit=audit, retries=-1)
    with pytest.raises(ConfigError, match=r"budgets\['\*'\]"):
        LLMGateway(ScriptedLLM([]), audit=audit, budgets={"*": -5})
    with pytest.raises(ConfigError, match="requests per minute"):
        LLMGateway(ScriptedLLM([]), audit=audit, rate_limit=0)


def test_error_classes_stay_distinguishable() -> None:
    assert issubclass(LLMConnectionError, LLMError)
    assert issubclass(LLMConnectionError, ConnectionError)
    assert not issubclass(LLMRateLimited, LLMResponseError)
