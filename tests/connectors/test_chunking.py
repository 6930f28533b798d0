"""Chunking: sections at headings, sentences packed with overlap, offsets into the source."""

from __future__ import annotations

from itertools import pairwise

import pytest

from crossroads.connectors._chunking import Span, chunk_text, sections, sentences
from crossroads.errors import ConfigError

SOP = """Preamble before any heading. It has two sentences.

# Dosing

Take one tablet a day. Take it with food, e.g. after breakfast. Dr. Smith approved this.

## Renal impairment

Halve the dose when creatinine clearance is below 30 mL/min. Monitor potassium weekly.
Stop the drug if potassium rises above 5.5 mmol/L.

# Storage

Keep below 25 degrees. Protect from light.
"""


def _check_offsets(text: str, chunks: list[tuple[str, Span]], max_chars: int) -> None:
    for _, span in chunks:
        piece = text[span.start : span.end]
        assert piece
        assert piece == piece.strip()
        assert len(piece) <= max_chars


def test_sections_follow_the_heading_path() -> None:
    found = sections(SOP)
    assert [s.heading for s in found] == ["", "Dosing", "Dosing › Renal impairment", "Storage"]
    assert found[0].start == 0
    for a, b in pairwise(found):
        assert a.end == b.start
    assert found[-1].end == len(SOP)


def test_no_chunk_spans_two_sections_and_headings_are_not_chunk_text() -> None:
    chunks = chunk_text(SOP, max_chars=80, overlap=30)
    _check_offsets(SOP, chunks, 80)
    bounds = sections(SOP)
    for heading, span in chunks:
        (section,) = [s for s in bounds if s.start <= span.start < s.end]
        assert span.end <= section.end
        assert heading == section.heading
        assert "#" not in SOP[span.start : span.end]


def test_consecutive_chunks_overlap_by_whole_sentences() -> None:
    text = " ".join(f"Sentence number {i} says something short." for i in range(30))
    chunks = chunk_text(text, max_chars=200, overlap=60)
    _check_offsets(text, chunks, 200)
    assert len(chunks) > 3
    for (_, a), (_, b) in pairwise(chunks):
        assert a.start < b.start < a.end  # overlap, and progress
        assert a.end - b.start <= 60
        assert text[b.start : a.end].startswith("Sentence number")
    assert chunks[-1][1].end == len(text)


def test_no_chunk_is_only_the_previous_chunks_tail() -> None:
    # regression: when the sentence after the overlap did not fit beside it, the next chunk
    # was the overlap alone, a strict subset of the chunk before
    text = " ".join(["Aaaa bbbb cccc dddd eeee ffff."] * 3) + " " + "word " * 18 + "end."
    chunks = chunk_text(text, max_chars=100, overlap=40)
    _check_offsets(text, chunks, 100)
    for (_, a), (_, b) in pairwise(chunks):
        assert b.end > a.end
    assert chunks[-1][1].end == len(text)


def test_a_sentence_longer_than_a_chunk_is_cut_at_spaces() -> None:
    text = "# Long\n\n" + " ".join(f"word{i}" for i in range(200))
    chunks = chunk_text(text, max_chars=100, overlap=0)
    _check_offsets(text, chunks, 100)
    words = [w for _, s in chunks for w in text[s.start : s.end].split()]
    assert words == [f"word{i}" for i in range(200)]


def test_abbreviations_do_not_end_sentences() -> None:
    text = "Take it e.g. after food. Dr. Smith said so. Approx. half respond! Really?"
    got = [text[s.start : s.end] for s in sentences(text)]
    assert got == [
        "Take it e.g. after food.",
        "Dr. Smith said so.",
        "Approx. half respond!",
        "Really?",
    ]


def test_a_blank_line_ends_a_sentence() -> None:
    text = "Title without a full stop\n\nFirst line of the body."
    assert [text[s.start : s.end] for s in sentences(text)] == [
        "Title without a full stop",
        "First line of the body.",
    ]


@pytest.mark.parametrize(
    ("line", "title"),
    [("# C#", "C#"), ("## Dosing ##", "Dosing"), ("### Q&A  ", "Q&A"), ("#nospace", None)],
)
def test_heading_titles(line: str, title: str | None) -> None:
    found = [s.heading for s in sections(f"{line}\n\nBody text.") if s.heading]
    assert found == ([] if title is None else [title])


def test_hash_lines_in_fenced_code_are_not_headings() -> None:
    text = "# Setup\n\nRun this:\n\n```bash\n# install the tool\npip install x\n```\n\nDone."
    assert [s.heading for s in sections(text)] == ["Setup"]


def test_a_heading_without_body_gives_no_chunk() -> None:
    assert chunk_text("# Empty\n\n# Full\n\nText.") == [("Full", Span(17, 22))]
    assert chunk_text("") == []
    assert chunk_text("   \n\n  ") == []


@pytest.mark.parametrize(("max_chars", "overlap"), [(49, 0), (100, 50), (100, -1)])
def test_bad_sizes_are_refused(max_chars: int, overlap: int) -> None:
    with pytest.raises(ConfigError):
        chunk_text("text", max_chars=max_chars, overlap=overlap)
