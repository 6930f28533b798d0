"""``crossroads chat``: a multi-turn conversation in the terminal, or over piped input.

The loop is thin: every line goes to :class:`ChatAgent.send` and its reply is printed.
The conversation is kept in a SQLite checkpoint file (``--checkpoint``, default
``.crossroads/chat.sqlite``) under its thread id, so ``--thread ID`` continues it later.
When stdin is not a terminal there is no prompt and no colour: each message is echoed
as ``> message`` and the transcript is deterministic (the thread id goes to stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from crossroads.errors import ConfigError, CrossroadsError

if TYPE_CHECKING:
    from crossroads._app import Crossroads

__all__ = ["DEFAULT_CHECKPOINT", "build_app", "main", "register", "run"]

DEFAULT_CHECKPOINT = ".crossroads/chat.sqlite"
"""Where ``crossroads chat`` keeps conversations unless ``--checkpoint`` says otherwise."""

_DIM, _BOLD, _RESET = "\033[2m", "\033[1m", "\033[0m"
_LABELS = ("route:", "fallback:", "answered by:", "sources", "governance")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``chat`` subcommand to ``subparsers`` (from ``add_subparsers``); its
    ``func`` default is :func:`run`."""
    chat: argparse.ArgumentParser = subparsers.add_parser(
        "chat",
        help="ask questions in a multi-turn conversation (follow-ups, /why, /sources, /audit)",
        description=(
            "A governed conversation: follow-ups such as 'and in France?' reuse the "
            "previous question; /help lists the commands. Data comes from --example NAME "
            "or from --policy with any of --db, --graph, --docs."
        ),
    )
    from crossroads._cli_app import add_app_arguments

    add_app_arguments(chat)
    chat.add_argument("--thread", default=None, help="continue the conversation with this id")
    chat.add_argument(
        "--checkpoint",
        default=DEFAULT_CHECKPOINT,
        help=f"SQLite file that keeps conversations (default {DEFAULT_CHECKPOINT})",
    )
    chat.set_defaults(func=run)
    return chat


def build_app(args: argparse.Namespace) -> Crossroads:
    """The app the arguments name: ``--example NAME`` (default ``pharma``) or
    ``--policy`` with any of ``--db``, ``--graph``, ``--docs``."""
    from crossroads._cli_app import app_from_args

    return app_from_args(args)


def _paint(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("→ reading as:"):
            lines.append(f"{_BOLD}{line}{_RESET}")
        elif line.startswith(_LABELS):
            lines.append(f"{_DIM}{line}{_RESET}")
        else:
            lines.append(line)
    return "\n".join(lines)


def run(
    args: argparse.Namespace,
    *,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Run the chat loop until ``/quit`` or end of input; 0 on a normal end, 2 when the
    app or the conversation cannot be set up (the message says why)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from crossroads.agents._chat import ChatAgent, describe_error, describe_principal
    from crossroads.graphs._serde import safe_serde

    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    interactive = _isatty(stdin) and _isatty(stdout)
    color = _isatty(stdout) and not os.environ.get("NO_COLOR")

    def say(text: str) -> None:
        print(_paint(text) if color else text, file=stdout, flush=True)

    connection: sqlite3.Connection | None = None
    try:
        app = build_app(args)
        path = Path(args.checkpoint)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, check_same_thread=False)
            saver = SqliteSaver(connection, serde=safe_serde())
            saver.setup()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the chat checkpoint file {path}: {exc}") from exc
        try:
            agent = ChatAgent(app, args.principal, checkpointer=saver, thread_id=args.thread)
            turns = len(agent.history)
        except CrossroadsError:
            raise
        except Exception as exc:  # an unreadable saved conversation: say so, in one line
            raise ConfigError(
                f"the conversation {args.thread} in the checkpoint file {path} cannot be read "
                f"({type(exc).__name__}: {' '.join(str(exc).split())}); start a new one or "
                "use another --checkpoint file"
            ) from exc
    except CrossroadsError as exc:
        if connection is not None:
            connection.close()
        print(describe_error(exc), file=stderr)
        return 2
    assert connection is not None
    if args.thread:
        state = f"continuing thread {agent.thread_id} ({turns} earlier turns)"
    else:
        state = f"new thread {agent.thread_id}"
    if interactive:
        say(f"crossroads chat — as {describe_principal(agent.principal)}; {state}. /help")
    else:
        print(state, file=stderr)
    try:
        while True:
            if interactive and stdin is sys.stdin:
                with contextlib.suppress(ImportError):
                    import readline  # noqa: F401 — imported for input()'s line editing
                try:
                    line = input("> ") + "\n"  # input() gives line editing and history
                except EOFError:
                    break
            else:
                if interactive:
                    print("> ", end="", file=stdout, flush=True)
                line = stdin.readline()
            if not line:
                break
            message = line.strip()
            if not message:
                continue
            if not interactive:
                say(f"> {message}")
            try:
                reply = agent.send(message)
            except Exception as exc:  # a bug must not end the conversation
                say(f"error: unexpected {type(exc).__name__}: {' '.join(str(exc).split())}")
                continue
            say(reply.text)
            say("")
            if reply.done:
                break
    except KeyboardInterrupt:
        print("", file=stdout)
    finally:
        connection.close()
    print(f"conversation kept as thread {agent.thread_id} in {args.checkpoint}", file=stderr)
    return 0


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """``crossroads chat`` on its own (``argv`` without the ``chat`` word); for tests and
    ``python -m crossroads.agents._chat_cli``."""
    parser = argparse.ArgumentParser(prog="crossroads")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["chat", *(sys.argv[1:] if argv is None else argv)])
    return run(args, stdin=stdin, stdout=stdout, stderr=stderr)


if __name__ == "__main__":
    sys.exit(main())
