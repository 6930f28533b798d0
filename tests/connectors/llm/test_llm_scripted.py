"""ScriptedLLM, the test double that ships with the library, and the package's exports."""

from __future__ import annotations

import httpx
import pytest

import crossroads.connectors.llm as llm_pkg
from crossroads.connectors.base import LLM, Message
from crossroads.connectors.llm import OpenAIChat, ScriptedLLM
from crossroads.errors import LLMError, LLMResponseError, LLMTimeout


def test_replies_in_order_and_records_calls() -> None:
    llm = ScriptedLLM(
        [
            "plain",
            {"route": "sql"},
            lambda msgs: f"echo {msgs[-1].content}",
            LLMTimeout("scripted timeout", model="scripted"),
        ],
        model="fake-1",
    )
    assert isinstance(llm, LLM)
    assert llm.model == "fake-1"

    first = llm.complete([Message("user", "a")])
    second = llm.complete([Message("user", "b")])
    third = llm.complete([Message("system", "s"), Message("user", "c")])
    with pytest.raises(LLMTimeout, match="scripted timeout"):
        llm.complete([Message("user", "d")])

    assert (first.text, first.data, first.model) == ("plain", None, "fake-1")
    assert (second.text, second.data) == ('{"route": "sql"}', {"route": "sql"})
    assert third.text == "echo c"
    assert [[m.content for m in call] for call in llm.calls] == [["a"], ["b"], ["s", "c"], ["d"]]
    assert llm.remaining == 0


def test_text_is_parsed_when_json_is_requested() -> None:
    llm = ScriptedLLM(['```json\n{"a": 1}\n```', "not json"])
    assert llm.complete([Message("user", "x")], json_schema={"type": "object"}).data == {"a": 1}
    with pytest.raises(LLMResponseError, match="not valid JSON"):
        llm.complete([Message("user", "x")], json_schema={"type": "object"})


def test_usage_is_estimated_from_characters() -> None:
    out = ScriptedLLM(["x" * 9]).complete([Message("user", "y" * 8)])
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (2, 3)
    assert out.usage.as_dict() == {"prompt": 2, "completion": 3, "total": 5}


def test_running_out_is_a_clear_error() -> None:
    llm = ScriptedLLM(["only"])
    llm.complete([Message("user", "one")])
    with pytest.raises(LLMError, match=r"called 2 times but holds only 1 scripted repl") as info:
        llm.complete([Message("user", "two")])
    assert "'two'" in str(info.value)
    assert info.value.model == "scripted"


def test_exports_are_exact_and_sorted() -> None:
    public = {n for n in vars(llm_pkg) if not n.startswith("_") and n[0].isupper()}
    assert llm_pkg.__all__ == sorted(llm_pkg.__all__)
    assert set(llm_pkg.__all__) == public


def test_the_guard_blocks_real_providers() -> None:
    with (
        OpenAIChat("gpt-4o-mini", api_key="sk-whatever") as llm,
        pytest.raises(RuntimeError, match=r"real model provider at api\.openai\.com"),
    ):
        llm.complete([Message("user", "hi")])
    with httpx.Client() as client, pytest.raises(RuntimeError, match=r"api\.anthropic\.com"):
        client.get("https://api.anthropic.com/v1/messages")
