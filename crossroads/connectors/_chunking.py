"""Splitting documents into chunks that respect headings and sentences.

A document's text is cut into *sections* at its headings (Markdown ``#`` lines, or the
heading lines an HTML conversion marks), each section into *sentences*, and the
sentences are packed into chunks of at most ``max_chars`` characters, the last
sentences of one chunk repeated at the start of the next (up to ``overlap``
characters). A chunk never spans two sections, so a citation points at one heading;
a sentence longer than a chunk is cut at word boundaries. Heading lines are not chunk
text: each chunk carries its heading path instead. Every chunk keeps its
character offsets in the source text: ``text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from crossroads.errors import ConfigError

__all__ = ["Section", "Span", "chunk_text", "sections", "sentences", "statements"]

# An ATX heading; a closing run of "#" counts only after a space ("# C#" is titled "C#").
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.M)
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})", re.M)
# A sentence ends at . ! ? (with closing quotes/brackets) followed by whitespace, at a
# blank line, or where a Markdown list item starts a line (each item is a sentence, even
# without a full stop); abbreviations such as "e.g." and "Dr." and a list item's number
# ("2. ") do not end one.
_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "vs",
        "dr",
        "mr",
        "mrs",
        "ms",
        "prof",
        "fig",
        "no",
        "approx",
        "ca",
        "cf",
        "al",
        "st",
        "jr",
        "sr",
        "inc",
        "ltd",
        "co",
    ]
)
_BOUNDARY = re.compile(
    r"(?P<item>\n(?=[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]))|(?<=[.!?])[\"'”’)\]]*\s+|\n[ \t]*\n\s*"
)
# A list item's marker at the start of a line: "- ", "* ", "+ ", "• ", "1. ", "2) ".
_ITEM = re.compile(r"[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]")


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of the source text and where it sits."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Section:
    """Text under one heading: ``heading`` is the path of headings above it."""

    heading: str
    start: int
    end: int


def sections(text: str) -> list[Section]:
    """The text cut at its Markdown headings; the heading path joins levels with ``›``.

    A ``#`` line inside a fenced code block (a shell comment) is not a heading.
    """
    fences = _fenced_blocks(text)
    marks = [m for m in _HEADING.finditer(text) if not any(a < m.start() < b for a, b in fences)]
    out: list[Section] = []
    path: list[tuple[int, str]] = []
    first = marks[0].start() if marks else len(text)
    if text[:first].strip():
        out.append(Section("", 0, first))
    for i, m in enumerate(marks):
        level, title = len(m.group(1)), m.group(2).strip()
        path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out.append(Section(" › ".join(t for _, t in path), m.start(), end))
    return out


def _fenced_blocks(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each fenced code block; an unclosed fence runs to the end."""
    blocks: list[tuple[int, int]] = []
    opened: tuple[int, str] | None = None
    for m in _FENCE.finditer(text):
        fence = m.group(1)
        if opened is None:
            opened = (m.start(), fence)
        elif fence[0] == opened[1][0] and len(fence) >= len(opened[1]):
            blocks.append((opened[0], m.end()))
            opened = None
    if opened is not None:
        blocks.append((opened[0], len(text)))
    return blocks


def sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """The sentences of ``text[start:end]`` as spans of ``text`` (whitespace trimmed)."""
    end = len(text) if end is None else end
    out: list[Span] = []
    pos = start
    for m in _BOUNDARY.finditer(text, start, end):
        paragraph = re.search(r"\n[ \t]*\n", m.group()) is not None
        if m.group("item"):  # a line starting a list item: each item is a sentence
            _add(out, text, pos, m.start())
            pos = m.end()
            continue
        if not paragraph:
            if _ITEM.fullmatch(text, text.rfind("\n", 0, m.start()) + 1, m.end()):
                continue  # "2. Code …": a list item's number, not a sentence's end
            word = re.search(r"(\S+)[.!?][\"'”’)\]]*$", text[pos : m.start()])
            if word and word.group(1).lower().rstrip(".") in _ABBREVIATIONS:
                continue  # "e.g. the", "Dr. Smith"
            if m.end() < end and text[m.end()].islower():
                continue  # "approx. half": not a new sentence
        _add(out, text, pos, m.start())
        pos = m.end()
    _add(out, text, pos, end)
    return out


def _add(out: list[Span], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append(Span(start, end))


def _pieces(text: str, span: Span, max_chars: int) -> Iterator[Span]:
    """A sentence longer than ``max_chars`` cut at word boundaries."""
    start = span.start
    while span.end - start > max_chars:
        cut = text.rfind(" ", start + 1, start + max_chars)
        if cut <= start:
            cut = start + max_chars
        yield Span(start, cut)
        start = cut
        while start < span.end and text[start].isspace():
            start += 1
    if span.end > start:
        yield Span(start, span.end)


def _body(text: str, section: Section) -> int:
    """Where a section's text starts: after its heading line (a heading is not a
    statement; it travels as the heading path)."""
    if not section.heading:
        return section.start
    line_end = text.find("\n", section.start, section.end)
    return section.end if line_end < 0 else line_end


def statements(text: str) -> list[tuple[str, Span]]:
    """Every sentence of ``text`` outside heading lines, with its heading path."""
    return [
        (section.heading, span)
        for section in sections(text)
        for span in sentences(text, _body(text, section), section.end)
    ]


def chunk_text(text: str, *, max_chars: int = 1000, overlap: int = 150) -> list[tuple[str, Span]]:
    """``(heading path, span)`` chunks of ``text``; see the module docstring."""
    if max_chars < 50:
        raise ConfigError(f"max_chars must be at least 50, got {max_chars}", key="max_chars")
    if not 0 <= overlap < max_chars // 2:
        raise ConfigError(
            f"overlap must be between 0 and half of max_chars ({max_chars // 2}), got {overlap}",
            key="overlap",
        )
    out: list[tuple[str, Span]] = []
    for section in sections(text):
        units = [
            p
            for s in sentences(text, _body(text, section), section.end)
            for p in _pieces(text, s, max_chars)
        ]
        i = 0
        while i < len(units):
            j = i
            while j + 1 < len(units) and units[j + 1].end - units[i].start <= max_chars:
                j += 1
            out.append((section.heading, Span(units[i].start, units[j].end)))
            if j + 1 >= len(units):
                break
            # start the next chunk with the last sentences of this one, up to `overlap`
            # characters and only as many as leave room for the next sentence: otherwise
            # the next chunk would hold nothing but a repeat of this one's tail
            k = j + 1
            while (
                k - 1 > i
                and units[j].end - units[k - 1].start <= overlap
                and units[j + 1].end - units[k - 1].start <= max_chars
            ):
                k -= 1
            i = k
    return out
