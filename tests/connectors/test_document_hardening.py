"""Hardening of the document index found by review: a failed save keeps the previous
one, text that cannot be saved is refused on the way in, one id cannot silently move
between collections, folders do not follow links out, front matter has no YAML
aliases, and a search never labels a stale BM25 build as current."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from crossroads.connectors import DocumentIndex
from crossroads.errors import ConfigError


def test_text_that_cannot_be_saved_is_refused_and_a_failed_save_keeps_the_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crossroads.connectors._documents_store as store

    index = DocumentIndex(collection="c")
    index.add("a", "Alpha text about apples.")
    index.save(tmp_path / "idx")
    with pytest.raises(ConfigError, match="not valid Unicode"):
        index.add("b", "broken \ud800 text")
    assert index.document_count == 1
    index.add("c", "Cherry text.")
    real = store._write

    def fail_midway(*args: object) -> None:
        real(*args)  # type: ignore[arg-type]
        raise OSError("disk full")

    monkeypatch.setattr(store, "_write", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        index.save(tmp_path / "idx")
    assert DocumentIndex.load(tmp_path / "idx").document_count == 1  # the old save, whole
    monkeypatch.setattr(store, "_write", real)
    index.save(tmp_path / "idx")
    assert DocumentIndex.load(tmp_path / "idx").document_count == 2
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]  # no temp folders left


def test_one_id_cannot_silently_move_between_collections() -> None:
    index = DocumentIndex(collection="hr")
    index.add("1", "Salaries are reviewed in March.")
    with pytest.raises(ConfigError, match="already in collection 'hr'"):
        index.add("1", "Public notice.", collection="public")
    assert index.document("1").collection == "hr"


def test_a_folder_does_not_follow_links_out(tmp_path: Path) -> None:
    public, hr = tmp_path / "public", tmp_path / "hr"
    public.mkdir()
    hr.mkdir()
    (public / "notice.md").write_text("# Notice\nThe canteen opens at noon.")
    (hr / "salaries.md").write_text("# Salaries\nConfidential figures.")
    (public / "linked.md").symlink_to(hr / "salaries.md")
    index = DocumentIndex.from_folder(public, collection="public")
    assert [d.id for d in index.documents()] == ["notice.md"]


def test_front_matter_aliases_are_refused(tmp_path: Path) -> None:
    (tmp_path / "bomb.md").write_text("---\na: &a [x, x]\nb: [*a, *a]\n---\n# T\nBody.")
    with pytest.raises(ConfigError, match="aliases"):
        DocumentIndex.from_folder(tmp_path)


def test_a_search_racing_writes_never_keeps_a_stale_build() -> None:
    index = DocumentIndex(collection="c")
    for i in range(200):
        index.add(f"d{i}", f"Document {i} mentions apples and pears. " * 5)
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            index.add(f"w{n}", f"Writer text {n} about bananas.")
            index.remove(f"w{n}")
            index.add(f"d{n % 200}", f"Document {n % 200} now mentions cherries. " * 5)
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(20):
            index.search("apples", k=5)
    finally:
        stop.set()
        writer.join()
    live = {c.chunk_id: c.text for c in index.chunks()}
    for chunk, _ in index.search("cherries", k=1000) + index.search("apples", k=1000):
        assert live.get(chunk.chunk_id) == chunk.text  # only live text is ever found


@pytest.mark.parametrize(
    ("html", "text", "title"),
    [
        ("<h1>Title<p>Body text here.</p>", "# Title\n\nBody text here.", "Title"),
        ("<html><head><title>T</title><p>Body para.</p></html>", "Body para.", "T"),
        (
            "<head><title>Label</title></head><body><svg><title>icon</title></svg>"
            "<p>Text.</p></body>",
            "Text.",
            "Label",
        ),
        ("<h2>Dosing <h3>Renal</h3></h2><p>Text.</p>", "## Dosing\n\n### Renal\n\nText.", "Dosing"),
        ("<p># 5 mg daily is the dose.</p>", "\\# 5 mg daily is the dose.", None),
    ],
    ids=["unclosed-heading", "unclosed-head", "svg-title", "nested-heading", "hash-text"],
)
def test_html_edge_cases_keep_the_text(html: str, text: str, title: str | None) -> None:
    from crossroads.connectors._html import html_to_text

    assert html_to_text(html) == (text, title)
