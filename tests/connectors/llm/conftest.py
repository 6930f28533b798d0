"""Fixtures for the LLM connector tests, and the guard that keeps them off real providers."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fake_server import SECRET, FakeLLMServer, Sleeps

from crossroads.audit import AuditLog
from crossroads.connectors.llm import AnthropicChat, OpenAIChat
from crossroads.policy import Principal


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    """A fresh fake provider on 127.0.0.1."""
    with FakeLLMServer() as srv:
        yield srv


@pytest.fixture
def openai(server: FakeLLMServer) -> Iterator[OpenAIChat]:
    """An OpenAI connector pointed at the fake server."""
    with OpenAIChat("gpt-test", base_url=f"{server.url}/v1", api_key=SECRET, timeout_s=5) as llm:
        yield llm


@pytest.fixture
def anthropic(server: FakeLLMServer) -> Iterator[AnthropicChat]:
    """An Anthropic connector pointed at the fake server."""
    with AnthropicChat("claude-test", base_url=server.url, api_key=SECRET, timeout_s=5) as llm:
        yield llm


@pytest.fixture
def audit() -> Iterator[AuditLog]:
    """An in-memory, hash-chained audit log."""
    log = AuditLog.memory()
    yield log
    log.close()


@pytest.fixture
def alice() -> Principal:
    """An ordinary principal."""
    return Principal("alice", groups=["analysts"])


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def sleeps() -> Sleeps:
    """An injectable ``sleep`` that records instead of sleeping."""
    return Sleeps()
