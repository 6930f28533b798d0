"""A real HTTP server on 127.0.0.1 that speaks the OpenAI and Anthropic wire formats.

Tests script what it answers (:class:`Reply`: status, body, headers, a delay)
and read back what it received (:class:`Received`: path, query, headers, JSON).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SECRET = "sk-test-SECRET-do-not-leak-0123456789"
"""The API key every connector under test is given; it must never show up in errors or audit."""


class Sleeps(list[float]):
    """Records the delays the gateway asked to sleep, without sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@dataclass(frozen=True)
class Reply:
    """One scripted answer. A dict/list body is sent as JSON; str or bytes as they are."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-cased header names."""
    raw: bytes
    json: Any


def openai_reply(
    content: str | None = "Hello!",
    *,
    model: str = "gpt-test",
    prompt_tokens: int | None = 11,
    completion_tokens: int = 7,
    finish_reason: str = "stop",
    refusal: str | None = None,
) -> Reply:
    """A 200 chat completion; ``prompt_tokens=None`` leaves ``usage`` out."""
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": finish_reason,
            }
        ],
    }
    if prompt_tokens is not None:
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
    return Reply(body=body)


def anthropic_reply(
    *blocks: dict[str, Any] | str,
    model: str = "claude-test",
    input_tokens: int = 13,
    output_tokens: int = 5,
    stop_reason: str = "end_turn",
) -> Reply:
    """A 200 message; str blocks become text blocks."""
    content = [{"type": "text", "text": b} if isinstance(b, str) else b for b in blocks]
    return Reply(
        body={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
    )


def error_reply(
    status: int, message: str, *, kind: str = "invalid_request_error", **headers: str
) -> Reply:
    """An error body in the shape both vendors use: ``{"error": {"type", "message"}}``."""
    return Reply(
        status=status,
        body={"type": "error", "error": {"type": kind, "message": message}},
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins every handler thread


class FakeLLMServer:
    """A threaded HTTP server on an ephemeral port; use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered in order; an empty queue answers 418."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not yet sent."""
        with self._lock:
            return len(self._replies)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        parts = urlsplit(h.path)
        with self._lock:
            self.requests.append(
                Received(
                    method=h.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in h.headers.items()},
                    raw=raw,
                    json=body,
                )
            )
            reply = (
                self._replies.popleft()
                if self._replies
                else error_reply(418, "fake server: no scripted reply left")
            )
        if reply.delay_s and self._stop.wait(reply.delay_s):
            return
        if isinstance(reply.body, bytes):
            payload = reply.body
        elif isinstance(reply.body, str):
            payload = reply.body.encode()
        else:
            payload = json.dumps(reply.body).encode()
        try:
            h.send_response(reply.status)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(payload)))
            for k, v in reply.headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def close(self) -> None:
        """Wake sleeping handlers, stop serving, close the socket, join the threads."""
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> FakeLLMServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
