"""OpenAIChat against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest
from fake_server import SECRET, FakeLLMServer, Reply, error_reply, openai_reply

from crossroads.connectors.base import LLM, Message
from crossroads.connectors.llm import LLMConnectionError, OpenAIChat
from crossroads.errors import LLMError, LLMRateLimited, LLMResponseError, LLMTimeout

MESSAGES = [Message("system", "You are terse."), Message("user", "Say hello.")]
SCHEMA = {
    "title": "Route choice",
    "type": "object",
    "properties": {"route": {"type": "string"}},
    "required": ["route"],
    "additionalProperties": False,
}


def test_happy_path_sends_the_exact_request(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(
        openai_reply("Hello!", model="gpt-test-2024", prompt_tokens=11, completion_tokens=7)
    )

    out = openai.complete(MESSAGES, max_tokens=50, temperature=0.2)

    assert isinstance(openai, LLM)
    assert out.text == "Hello!"
    assert out.model == "gpt-test-2024"
    assert out.finish_reason == "stop"
    assert out.data is None
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (11, 7)
    [req] = server.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == f"Bearer {SECRET}"
    assert req.headers["content-type"] == "application/json"
    assert req.json == {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello."},
        ],
        "max_tokens": 50,
        "temperature": 0.2,
    }


def test_optional_parameters_are_left_out(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(openai_reply())
    openai.complete([Message("user", "hi")])
    assert server.requests[0].json == {
        "model": "gpt-test",
        "messages": [{"role": "user", "content": "hi"}],
    }


def test_no_key_sends_no_authorization_for_local_servers(server: FakeLLMServer) -> None:
    server.script(openai_reply())
    with OpenAIChat("llama3", base_url=f"{server.url}/v1/", headers={"x-extra": "1"}) as llm:
        llm.complete([Message("user", "hi")])
    req = server.requests[0]
    assert req.path == "/v1/chat/completions"
    assert "authorization" not in req.headers
    assert req.headers["x-extra"] == "1"


def test_key_falls_back_to_the_environment(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    server.script(openai_reply())
    with OpenAIChat("m", base_url=server.url) as llm:
        llm.complete([Message("user", "hi")])
    assert server.requests[0].headers["authorization"] == "Bearer sk-from-env"


def test_missing_usage_is_estimated(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(openai_reply("x" * 40, prompt_tokens=None))
    out = openai.complete([Message("user", "y" * 20)])
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (5, 10)


def test_structured_output_request_and_parse(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(openai_reply('```json\n{"route": "sql"}\n```'))

    out = openai.complete(MESSAGES, json_schema=SCHEMA)

    assert out.data == {"route": "sql"}
    assert server.requests[0].json["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Route_choice", "schema": SCHEMA, "strict": True},
    }


def test_structured_output_without_title_is_named_response(
    server: FakeLLMServer, openai: OpenAIChat
) -> None:
    server.script(openai_reply("[1, 2]"))
    out = openai.complete(MESSAGES, json_schema={"type": "array"})
    assert out.data == [1, 2]
    assert server.requests[0].json["response_format"]["json_schema"]["name"] == "response"


def test_malformed_json_is_a_response_error(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(openai_reply('{"route": sql}'))
    with pytest.raises(LLMResponseError, match="not valid JSON") as info:
        openai.complete(MESSAGES, json_schema=SCHEMA)
    assert info.value.model == "gpt-test"


def test_refusal_is_a_response_error(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(openai_reply(None, refusal="I can't help with that."))
    with pytest.raises(LLMResponseError, match="refused"):
        openai.complete(MESSAGES)


def test_401_names_the_environment_variable(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(error_reply(401, f"Incorrect API key provided: {SECRET}", kind="auth"))
    with pytest.raises(LLMError, match="OPENAI_API_KEY") as info:
        openai.complete(MESSAGES)
    assert info.value.status == 401
    assert type(info.value) is LLMError
    assert SECRET not in str(info.value)
    assert "[REDACTED]" in str(info.value)


def test_400_carries_the_provider_message(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(error_reply(400, "Unsupported parameter: 'temperature'"))
    with pytest.raises(LLMResponseError, match="Unsupported parameter: 'temperature'") as info:
        openai.complete(MESSAGES, temperature=3.0)
    assert info.value.status == 400


def test_429_carries_retry_after(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(error_reply(429, "Rate limit reached", kind="rate_limit", retry_after="7"))
    with pytest.raises(LLMRateLimited, match="7 s") as info:
        openai.complete(MESSAGES)
    assert info.value.status == 429
    assert getattr(info.value, "retry_after", None) == 7.0


def test_5xx_keeps_the_status(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(Reply(status=503, body="upstream unavailable"))
    with pytest.raises(LLMError, match="503") as info:
        openai.complete(MESSAGES)
    assert info.value.status == 503


def test_timeout(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(Reply(delay_s=2.0, body=openai_reply().body))
    with pytest.raises(LLMTimeout, match=r"0\.2 s") as info:
        openai.complete(MESSAGES, timeout_s=0.2)
    assert isinstance(info.value.__cause__, httpx.TimeoutException)


def test_connection_refused_names_the_url(closed_port: int) -> None:
    with (
        OpenAIChat("m", base_url=f"http://127.0.0.1:{closed_port}/v1", api_key=SECRET) as llm,
        pytest.raises(LLMConnectionError, match=f"127.0.0.1:{closed_port}/v1/chat/completions"),
    ):
        llm.complete(MESSAGES)


def test_non_json_body(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(Reply(body="<html>login</html>"))
    with pytest.raises(LLMResponseError, match="not JSON"):
        openai.complete(MESSAGES)


def test_wrong_shape_body(server: FakeLLMServer, openai: OpenAIChat) -> None:
    server.script(Reply(body={"choices": []}), Reply(body={"result": "hi"}))
    with pytest.raises(LLMResponseError, match="not a chat completion"):
        openai.complete(MESSAGES)
    with pytest.raises(LLMResponseError, match="choices"):
        openai.complete(MESSAGES)


def test_azure_url_and_header(server: FakeLLMServer) -> None:
    server.script(openai_reply("hi"))
    with OpenAIChat.azure(server.url + "/", "my-gpt4o", "2024-10-21", api_key=SECRET) as llm:
        assert llm.provider == "azure"
        assert llm.model == "my-gpt4o"
        llm.complete(MESSAGES)
    req = server.requests[0]
    assert req.path == "/openai/deployments/my-gpt4o/chat/completions"
    assert req.query == {"api-version": ["2024-10-21"]}
    assert req.headers["api-key"] == SECRET
    assert "authorization" not in req.headers


def test_azure_401_names_the_azure_variable(server: FakeLLMServer) -> None:
    server.script(error_reply(401, "Access denied"))
    with (
        OpenAIChat.azure(server.url, "d", "2024-10-21", api_key=SECRET) as llm,
        pytest.raises(LLMError, match="AZURE_OPENAI_API_KEY"),
    ):
        llm.complete(MESSAGES)


def test_a_borrowed_client_is_left_open(server: FakeLLMServer) -> None:
    server.script(openai_reply())
    with httpx.Client() as client:
        llm = OpenAIChat("m", base_url=server.url, client=client)
        llm.complete(MESSAGES)
        llm.close()
        assert not client.is_closed


def test_repr_hides_the_key(openai: OpenAIChat) -> None:
    assert SECRET not in repr(openai)
    assert "gpt-test" in repr(openai)
