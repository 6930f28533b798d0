"""AnthropicChat against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import pytest
from fake_server import SECRET, FakeLLMServer, Reply, anthropic_reply, error_reply

from crossroads.connectors.base import LLM, Message
from crossroads.connectors.llm import AnthropicChat, LLMConnectionError
from crossroads.errors import LLMError, LLMRateLimited, LLMResponseError, LLMTimeout

MESSAGES = [
    Message("system", "You are terse."),
    Message("user", "Say hello."),
    Message("assistant", "Hello."),
    Message("system", "Answer in English."),
    Message("user", "Again."),
]
SCHEMA = {
    "type": "object",
    "properties": {"route": {"type": "string"}},
    "required": ["route"],
}


def test_happy_path_sends_the_exact_request(
    server: FakeLLMServer, anthropic: AnthropicChat
) -> None:
    server.script(
        anthropic_reply("Hello ", {"type": "thinking", "thinking": "…"}, "again.", output_tokens=4)
    )

    out = anthropic.complete(MESSAGES, temperature=0.0)

    assert isinstance(anthropic, LLM)
    assert out.text == "Hello again."
    assert out.model == "claude-test"
    assert out.finish_reason == "end_turn"
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (13, 4)
    [req] = server.requests
    assert (req.method, req.path) == ("POST", "/v1/messages")
    assert req.headers["x-api-key"] == SECRET
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in req.headers
    assert req.json == {
        "model": "claude-test",
        "max_tokens": 1024,
        "system": "You are terse.\n\nAnswer in English.",
        "messages": [
            {"role": "user", "content": "Say hello."},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Again."},
        ],
        "temperature": 0.0,
    }


def test_max_tokens_and_version_are_configurable(server: FakeLLMServer) -> None:
    server.script(anthropic_reply("ok"), anthropic_reply("ok"))
    with AnthropicChat(
        "c", base_url=server.url, api_key=SECRET, anthropic_version="2099-01-01", max_tokens=64
    ) as llm:
        llm.complete([Message("user", "hi")])
        llm.complete([Message("user", "hi")], max_tokens=8)
    first, second = (r.json for r in server.requests)
    assert first == {
        "model": "c",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert second["max_tokens"] == 8
    assert server.requests[0].headers["anthropic-version"] == "2099-01-01"


def test_key_falls_back_to_the_environment(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    server.script(anthropic_reply("ok"))
    with AnthropicChat("c", base_url=server.url) as llm:
        llm.complete([Message("user", "hi")])
    assert server.requests[0].headers["x-api-key"] == "sk-ant-from-env"


def test_cache_tokens_count_as_prompt(server: FakeLLMServer, anthropic: AnthropicChat) -> None:
    reply = anthropic_reply("ok", input_tokens=3, output_tokens=2)
    reply.body["usage"].update(cache_creation_input_tokens=10, cache_read_input_tokens=100)
    server.script(reply)
    assert anthropic.complete(MESSAGES).usage.prompt_tokens == 113


def test_structured_output_uses_a_forced_tool(
    server: FakeLLMServer, anthropic: AnthropicChat
) -> None:
    server.script(
        anthropic_reply(
            {"type": "tool_use", "id": "t1", "name": "respond", "input": {"route": "sql"}},
            stop_reason="tool_use",
        )
    )

    out = anthropic.complete(MESSAGES, json_schema=SCHEMA)

    assert out.data == {"route": "sql"}
    assert out.text == '{"route": "sql"}'
    assert out.finish_reason == "tool_use"
    body = server.requests[0].json
    assert body["tools"] == [
        {
            "name": "respond",
            "description": "Give the answer in exactly this structure.",
            "input_schema": SCHEMA,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "respond"}


def test_structured_output_wraps_a_non_object_schema(
    server: FakeLLMServer, anthropic: AnthropicChat
) -> None:
    server.script(
        anthropic_reply({"type": "tool_use", "id": "t", "name": "respond", "input": {"value": [1]}})
    )
    out = anthropic.complete(MESSAGES, json_schema={"type": "array"})
    assert out.data == [1]
    schema = server.requests[0].json["tools"][0]["input_schema"]
    assert schema == {
        "type": "object",
        "properties": {"value": {"type": "array"}},
        "required": ["value"],
    }


def test_structured_output_falls_back_to_json_text(
    server: FakeLLMServer, anthropic: AnthropicChat
) -> None:
    server.script(anthropic_reply('```json\n{"route": "rag"}\n```'))
    assert anthropic.complete(MESSAGES, json_schema=SCHEMA).data == {"route": "rag"}


def test_malformed_json_is_a_response_error(
    server: FakeLLMServer, anthropic: AnthropicChat
) -> None:
    server.script(anthropic_reply("Sure! The route is sql."))
    with pytest.raises(LLMResponseError, match="not valid JSON"):
        anthropic.complete(MESSAGES, json_schema=SCHEMA)


def test_401_names_the_environment_variable(
    server: FakeLLMServer, anthropic: AnthropicChat
) -> None:
    server.script(error_reply(401, "invalid x-api-key", kind="authentication_error"))
    with pytest.raises(LLMError, match="ANTHROPIC_API_KEY") as info:
        anthropic.complete(MESSAGES)
    assert info.value.status == 401
    assert "authentication_error: invalid x-api-key" in str(info.value)


def test_400_carries_the_provider_message(server: FakeLLMServer, anthropic: AnthropicChat) -> None:
    server.script(error_reply(400, "messages: roles must alternate"))
    with pytest.raises(LLMResponseError, match="roles must alternate") as info:
        anthropic.complete(MESSAGES)
    assert info.value.status == 400


def test_429_and_529(server: FakeLLMServer, anthropic: AnthropicChat) -> None:
    server.script(
        error_reply(429, "slow down", kind="rate_limit_error", retry_after="3"),
        error_reply(529, "Overloaded", kind="overloaded_error"),
    )
    with pytest.raises(LLMRateLimited) as limited:
        anthropic.complete(MESSAGES)
    assert getattr(limited.value, "retry_after", None) == 3.0
    with pytest.raises(LLMError, match="Overloaded") as overloaded:
        anthropic.complete(MESSAGES)
    assert overloaded.value.status == 529


def test_timeout(server: FakeLLMServer, anthropic: AnthropicChat) -> None:
    server.script(Reply(delay_s=2.0, body=anthropic_reply("late").body))
    with pytest.raises(LLMTimeout):
        anthropic.complete(MESSAGES, timeout_s=0.2)


def test_connection_refused(closed_port: int) -> None:
    with (
        AnthropicChat("c", base_url=f"http://127.0.0.1:{closed_port}", api_key=SECRET) as llm,
        pytest.raises(LLMConnectionError, match=f"127.0.0.1:{closed_port}/v1/messages") as info,
    ):
        llm.complete(MESSAGES)
    assert isinstance(info.value, ConnectionError)
    assert SECRET not in str(info.value)


def test_non_json_and_wrong_shape(server: FakeLLMServer, anthropic: AnthropicChat) -> None:
    server.script(Reply(body=b"\x00garbage"), Reply(body={"type": "message", "content": "hi"}))
    with pytest.raises(LLMResponseError, match="not JSON"):
        anthropic.complete(MESSAGES)
    with pytest.raises(LLMResponseError, match="not a message") as info:
        anthropic.complete(MESSAGES)
    assert info.value.status == 200
