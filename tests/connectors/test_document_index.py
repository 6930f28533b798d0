"""The document index: ingestion (JSONL, folders, SQL), chunks, BM25 search, persistence."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from crossroads.connectors import (
    Chunk,
    Document,
    DocumentIndex,
    DocumentStore,
    SQLDatabase,
)
from crossroads.connectors._chunking import sections
from crossroads.connectors._html import html_to_text
from crossroads.errors import ConfigError
from crossroads.policy import Catalog, Principal

SOP_MD = """---
region: EU
classification: internal
owners: [alice, bob]
reviewed: 2024-05-01
---
# Dosing guide

General advice for every patient. Take one tablet a day with food.

## Renal impairment

Halve the dose when creatinine clearance is below 30 mL/min. Monitor potassium weekly.
Stop the drug if potassium rises above 5.5 mmol/L. Dialysis patients need a specialist.

## Hepatic impairment

Avoid in severe hepatic impairment. Check liver enzymes monthly. Report jaundice at once.

# Storage

Keep below 25 degrees. Protect from light. Do not freeze the tablets.
"""

LABEL_HTML = """<!DOCTYPE html>
<html><head><title>Label: Examplol</title>
<style>body { color: red; } .dose { font-weight: bold }</style>
<script>var dose = "secret script text";</script></head>
<body>
<nav>Home</nav>
<h1>Examplol tablets</h1>
<p>Examplol treats hypertension.   It lowers blood pressure.</p>
<h2>Side <em>effects</em></h2>
<ul><li>Dizziness in the first week.</li><li>Dry cough, e.g. at night.</li></ul>
<h2>Overdose</h2>
<table><tr><th>Dose</th><th>Effect</th></tr><tr><td>10 mg</td><td>none</td></tr></table>
<p>Call a poison centre.<br>Give activated charcoal &amp; fluids.</p>
<script>document.write("<p>more script</p>")</script>
</body></html>
"""


def _sentences(prefix: str, n: int) -> str:
    return " ".join(f"{prefix} sentence {i} is about nothing much." for i in range(n))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sops").mkdir(parents=True)
    (root / "sops" / "dosing.md").write_text(SOP_MD, encoding="utf-8")
    (root / "labels").mkdir()
    (root / "labels" / "examplol.html").write_text(LABEL_HTML, encoding="utf-8")
    (root / "notes.txt").write_text("Plain notes.\r\nNo heading here.", encoding="utf-8")
    (root / "image.png").write_bytes(b"\x89PNG")  # not matched by the patterns
    (root / ".git").mkdir()
    (root / ".git" / "HEAD.md").write_text("# hidden", encoding="utf-8")
    return root


def _assert_offsets(index: DocumentIndex) -> None:
    """Every chunk is its document's text between its offsets, inside one section."""
    assert len(index) == len(index.chunks()) > 0
    for doc in index.documents():
        bounds = sections(doc.text)
        for n, chunk in enumerate(index.chunks(doc.id)):
            assert chunk.chunk_id == f"{doc.id}#{n}"
            assert doc.text[chunk.start : chunk.end] == chunk.text
            (section,) = [s for s in bounds if s.start <= chunk.start < s.end]
            assert chunk.end <= section.end, "a chunk spans two sections"
            assert chunk.heading == section.heading
            assert index.chunk(chunk.chunk_id) == chunk


# --- folders, HTML, front matter ------------------------------------------------------------


def test_folder_chunks_round_trip_their_offsets(folder: Path) -> None:
    index = DocumentIndex.from_folder(folder, collection="sops")
    assert [d.id for d in index.documents()] == [
        "labels/examplol.html",
        "notes.txt",
        "sops/dosing.md",
    ]
    _assert_offsets(index)
    small = DocumentIndex.from_folder(folder, max_chars=80, overlap=30)  # many chunks a section
    _assert_offsets(small)
    assert len(small) > len(index)
    # overlap: a chunk repeats the last sentences of the one before (when they fit)
    pairs = list(pairwise(small.chunks("sops/dosing.md")))
    overlapping = [(a, b) for a, b in pairs if b.start < a.end]
    assert overlapping
    for a, b in overlapping:
        assert a.heading == b.heading
        assert a.start < b.start
        assert a.end < b.end
        assert a.text.endswith(b.text[: a.end - b.start])
    headings = {c.heading for c in small.chunks("sops/dosing.md")}
    assert headings == {
        "Dosing guide",
        "Dosing guide › Renal impairment",
        "Dosing guide › Hepatic impairment",
        "Storage",
    }
    assert {c.heading for c in small.chunks("labels/examplol.html")} == {
        "Examplol tablets",
        "Examplol tablets › Side effects",
        "Examplol tablets › Overdose",
    }


def test_front_matter_becomes_metadata_and_leaves_the_text(folder: Path) -> None:
    index = DocumentIndex.from_folder(folder)
    doc = index.document("sops/dosing.md")
    assert doc.text.startswith("# Dosing guide")
    assert "classification" not in doc.text
    meta = dict(doc.metadata)
    assert meta["region"] == "EU"
    assert meta["classification"] == "internal"
    assert meta["owners"] == ["alice", "bob"]
    assert meta["reviewed"] == "2024-05-01"  # YAML's date, made a JSON value
    assert meta["title"] == "Dosing guide"
    assert meta["path"] == (folder / "sops" / "dosing.md").as_posix()
    modified = dt.datetime.fromisoformat(meta["modified"])
    assert modified.tzinfo is not None
    assert modified.utcoffset() == dt.timedelta(0)
    for chunk in index.chunks(doc.id):
        assert chunk.metadata["region"] == "EU"
        assert chunk.metadata["collection"] == "default"
    notes = index.document("notes.txt")
    assert notes.metadata["title"] == "notes"  # no heading: the file name
    assert notes.text == "Plain notes.\nNo heading here."  # newlines normalised


def test_front_matter_title_wins_and_bad_front_matter_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ntitle: Chosen\n---\n# Heading\n\nText.", "utf-8")
    index = DocumentIndex.from_folder(tmp_path)
    assert index.document("a.md").metadata["title"] == "Chosen"
    (tmp_path / "b.md").write_text("---\nregion: [EU\n---\nText.", "utf-8")
    with pytest.raises(ConfigError) as err:
        DocumentIndex.from_folder(tmp_path)
    assert err.value.file is not None
    assert err.value.file.endswith("b.md")
    assert "front matter" in str(err.value)
    (tmp_path / "b.md").write_text("---\n- a list\n---\nText.", "utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        DocumentIndex.from_folder(tmp_path)


def test_html_is_converted_with_headings_and_without_scripts(folder: Path) -> None:
    index = DocumentIndex.from_folder(folder)
    doc = index.document("labels/examplol.html")
    assert doc.metadata["title"] == "Label: Examplol"
    assert "secret" not in doc.text
    assert "more script" not in doc.text
    assert "color" not in doc.text
    assert "# Examplol tablets\n\n" in doc.text
    assert "## Side effects\n\n" in doc.text
    assert "It lowers blood pressure." in doc.text
    assert "treats hypertension. It" in doc.text  # whitespace collapsed
    assert "Call a poison centre.\nGive activated charcoal & fluids." in doc.text
    assert "Dizziness in the first week.\nDry cough, e.g. at night." in doc.text
    assert "Dose Effect\n10 mg none" in doc.text
    assert "Home" not in doc.text  # navigation
    assert index.search("script secret") == []


def test_html_title_falls_back_to_the_first_heading() -> None:
    text, title = html_to_text("<body><h2>Only  heading</h2><p>x</p></body>")
    assert title == "Only heading"
    assert text == "## Only heading\n\nx"


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such directory"):
        DocumentIndex.from_folder(tmp_path / "missing")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ConfigError, match="UTF-8") as err:
        DocumentIndex.from_folder(tmp_path)
    assert err.value.file is not None
    assert err.value.file.endswith("latin1.txt")
    with pytest.raises(ConfigError, match="list"):
        DocumentIndex.from_folder(tmp_path, patterns="*.md")


# --- JSONL ----------------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", "utf-8"
    )
    return path


def test_jsonl_text_and_metadata(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"_id": "d1", "title": "Aspirin", "text": "Aspirin thins the blood.", "year": 2020},
            {"_id": 2, "title": "", "text": "No title here.", "metadata": {"region": "EU"}},
            "",
            {"_id": "d3", "title": "Only a title", "region": "US", "metadata": {"region": "JP"}},
        ],
    )
    index = DocumentIndex.from_jsonl(path, collection="scifact")
    d1, d2, d3 = index.documents()
    assert d1 == Document("d1", "scifact", "Aspirin\n\nAspirin thins the blood.", {"year": 2020})
    assert (d2.id, d2.text, dict(d2.metadata)) == ("2", "No title here.", {"region": "EU"})
    assert d3.text == "Only a title"
    assert dict(d3.metadata) == {"region": "US"}  # top-level fields win over nested ones
    assert index.collections() == frozenset({"scifact"})
    picked = DocumentIndex.from_jsonl(path, metadata_fields=["region"])
    assert [dict(d.metadata) for d in picked.documents()] == [
        {},
        {"region": "EU"},
        {"region": "US"},
    ]
    path = _write_jsonl(tmp_path / "b.jsonl", [{"id": "d1", "title": "Aspirin", "body": "Thins."}])
    body = DocumentIndex.from_jsonl(path, text_fields=["body"], id_field="id")
    assert body.document("d1").text == "Thins."
    assert dict(body.document("d1").metadata) == {"title": "Aspirin"}


GOOD = {"_id": "ok", "text": "fine"}


@pytest.mark.parametrize(
    ("rows", "line", "message"),
    [
        ([GOOD, '{"_id": "x", "text": '], 2, "not valid JSON"),
        ([GOOD, "[1, 2]"], 2, "expected a JSON object"),
        ([GOOD, GOOD | {"_id": "b"}, {"text": "no id"}], 3, "no '_id' field"),
        ([{"_id": None, "text": "x"}], 1, "non-empty string or an integer"),
        ([GOOD, {"_id": "n", "text": 42}], 2, "text field 'text' must be a string"),
        ([GOOD, {"_id": "n", "body": "x"}], 2, "none of the text fields"),
        ([GOOD, GOOD | {"_id": "b"}, GOOD], 3, "duplicate document id 'ok' (first on line 1)"),
        ([GOOD, {"_id": "m", "text": "x", "metadata": [1]}], 2, "'metadata' must be"),
    ],
)
def test_jsonl_errors_name_file_and_line(
    tmp_path: Path, rows: list[Any], line: int, message: str
) -> None:
    path = _write_jsonl(tmp_path / "bad.jsonl", rows)
    index = DocumentIndex()
    index.add("keep", "Existing document.")
    with pytest.raises(ConfigError) as err:
        index.add_jsonl(path)
    assert err.value.file == str(path)
    assert err.value.line == line
    assert message in str(err.value)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert [d.id for d in index.documents()] == ["keep"]  # nothing half-loaded


def test_jsonl_missing_file_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        DocumentIndex.from_jsonl(tmp_path / "nope.jsonl")
    path = _write_jsonl(tmp_path / "c.jsonl", [GOOD])
    with pytest.raises(ConfigError, match="not one string"):
        DocumentIndex.from_jsonl(path, text_fields="text")
    (tmp_path / "bin.jsonl").write_bytes(b'{"_id": "a", "text": "x"}\n{"_id": "\xff"}\n')
    with pytest.raises(ConfigError, match="not UTF-8") as err:
        DocumentIndex.from_jsonl(tmp_path / "bin.jsonl")
    assert err.value.line == 2


def test_jsonl_collection_field_must_not_contradict(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "c.jsonl", [GOOD | {"collection": "other"}])
    with pytest.raises(ConfigError, match="'collection' field"):
        DocumentIndex.from_jsonl(path, collection="mine")
    assert len(DocumentIndex.from_jsonl(path, collection="other")) == 1


# --- SQL ------------------------------------------------------------------------------------


@pytest.fixture
def faq_db(tmp_path: Path) -> SQLDatabase:
    path = tmp_path / "kb.db"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE "FAQ entries" (
            id INTEGER PRIMARY KEY, question TEXT, "answer text" TEXT, region TEXT,
            updated DATE, score REAL, blob BLOB);
        INSERT INTO "FAQ entries" VALUES
            (1, 'How do I reset my password?', 'Use the reset link on the login page.',
             'EU', '2024-01-02', 1.5, x'00'),
            (2, 'Where is the invoice?', NULL, 'US', NULL, NULL, NULL),
            (3, 'How long is shipping?', 'Shipping takes three days.', 'EU', NULL, 2, NULL);
        """
    )
    con.commit()
    con.close()
    return SQLDatabase(f"sqlite:///{path}")


def test_sql_rows_become_documents(faq_db: SQLDatabase) -> None:
    index = DocumentIndex.from_sql(
        faq_db,
        "faq entries",  # names are matched case-insensitively and quoted
        id_column="ID",
        text_columns=["question", "Answer Text"],
        metadata_columns=["region", "updated", "score"],
    )
    assert index.collections() == frozenset({"FAQ entries"})
    assert index.collection == "FAQ entries"
    one, two, three = index.documents()
    assert one.id == "1"
    assert one.text == "How do I reset my password?\n\nUse the reset link on the login page."
    assert dict(one.metadata) == {"region": "EU", "updated": "2024-01-02", "score": 1.5}
    assert two.text == "Where is the invoice?"
    assert dict(three.metadata)["score"] == 2
    assert index.search("password reset")[0][0].doc_id == "1"
    _assert_offsets(index)
    named = DocumentIndex.from_sql(
        faq_db,
        "FAQ entries",
        id_column="id",
        text_columns=["question"],
        metadata_columns=[],
        collection="faq",
    )
    assert named.collections() == frozenset({"faq"})


def test_sql_columns_become_metadata_only_when_named(faq_db: SQLDatabase) -> None:
    # metadata goes back to every reader: a column (say one masked on the SQL route)
    # must never be exposed just because it was in the table
    index = DocumentIndex.from_sql(faq_db, "FAQ entries", id_column="id", text_columns=["question"])
    assert all(dict(d.metadata) == {} for d in index.documents())


def test_sql_names_are_checked_against_the_schema(faq_db: SQLDatabase) -> None:
    with pytest.raises(ConfigError, match=r"no table or view 'faqs'.*FAQ entries"):
        DocumentIndex.from_sql(faq_db, "faqs", id_column="id", text_columns=["question"])
    with pytest.raises(ConfigError, match=r"no column 'answer'.*'answer text'") as err:
        DocumentIndex.from_sql(faq_db, "FAQ entries", id_column="id", text_columns=["answer"])
    assert err.value.key == "text_columns"
    with pytest.raises(ConfigError, match="no column 'x\"; DROP TABLE t; --'"):
        DocumentIndex.from_sql(
            faq_db, "FAQ entries", id_column='x"; DROP TABLE t; --', text_columns=["question"]
        )
    # a BLOB column cannot be metadata
    with pytest.raises(ConfigError, match="metadata_columns"):
        DocumentIndex.from_sql(
            faq_db,
            "FAQ entries",
            id_column="id",
            text_columns=["question"],
            metadata_columns=["blob"],
        )
    with pytest.raises(ConfigError, match="more than max_rows=2"):
        DocumentIndex.from_sql(
            faq_db,
            "FAQ entries",
            id_column="id",
            text_columns=["question"],
            metadata_columns=[],
            max_rows=2,
        )
    with pytest.raises(ConfigError, match="duplicate id 'EU'"):
        DocumentIndex.from_sql(
            faq_db,
            "FAQ entries",
            id_column="region",
            text_columns=["question"],
            metadata_columns=[],
        )


# --- adding, replacing, removing ------------------------------------------------------------


def test_reingesting_a_changed_document_replaces_its_chunks() -> None:
    index = DocumentIndex(max_chars=200, overlap=40)
    old = "# Policy\n\n" + _sentences("Zebra", 12)
    assert index.add("policy", old, {"v": 1}) is True
    assert index.add("other", "Unrelated text about giraffes.") is True
    old_ids = [c.chunk_id for c in index.chunks("policy")]
    assert len(old_ids) > 2
    assert index.search("zebra")[0][0].doc_id == "policy"
    assert index.add("policy", old, {"v": 1}) is False  # unchanged: same chunks, same ids
    assert [c.chunk_id for c in index.chunks("policy")] == old_ids
    assert index.add("policy", "# Policy\n\nNow about okapis only.", {"v": 2}) is True
    assert [c.chunk_id for c in index.chunks("policy")] == ["policy#0"]
    assert index.search("zebra") == []  # the old text is gone from the BM25 index
    assert [c.doc_id for c, _ in index.search("okapis")] == ["policy"]
    for gone in old_ids[1:]:
        with pytest.raises(KeyError):
            index.chunk(gone)
    assert len(index) == 2
    assert index.document_count == 2
    assert index.document("policy").metadata["v"] == 2
    assert index.add("policy", "# Policy\n\nNow about okapis only.", {"v": 3}) is True
    assert index.chunk("policy#0").metadata["v"] == 3  # metadata alone changes chunks too


def test_remove() -> None:
    index = DocumentIndex()
    index.add("a", "Alpha text.")
    index.add("b", "Beta text.")
    assert index.search("alpha")
    assert index.remove("a") is True
    assert index.remove("a") is False
    assert index.search("alpha") == []
    assert len(index) == 1
    assert [d.id for d in index.documents()] == ["b"]
    with pytest.raises(KeyError, match="no document 'a'"):
        index.document("a")
    with pytest.raises(KeyError):
        index.chunks("a")


def test_collections_and_protocol() -> None:
    index = DocumentIndex("labels")
    assert index.collections() == frozenset()
    index.add("a", "Alpha.")
    index.add("b", "Beta.", collection="faq")
    index.add("c", "")  # a document without text has no chunks
    assert index.collections() == frozenset({"labels", "faq"})
    assert index.chunk("b#0").collection == "faq"
    assert index.chunk("b#0").metadata == {"collection": "faq"}
    assert len(index) == 2
    assert index.document_count == 3
    assert isinstance(index, DocumentStore)
    assert "3 documents, 2 chunks" in repr(index)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda i: i.add("", "x"), "non-empty string"),
        (lambda i: i.add("a", b"bytes"), "text must be a string"),
        (lambda i: i.add("a", "x", {"when": object()}), "not a JSON value"),
        (lambda i: i.add("a", "x", {1: "x"}), "keys must be strings"),
        (lambda i: i.add("a", "x", {"collection": "other"}), "pass collection="),
        (lambda i: i.add("a", "x", collection=""), "collection name"),
        (lambda i: i.search("x", k=-1), "k must be"),
    ],
)
def test_bad_arguments(call: Callable[[DocumentIndex], object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call(DocumentIndex())


@pytest.mark.parametrize(
    "kwargs", [{"k1": -1}, {"b": 1.5}, {"max_chars": 10}, {"overlap": 600}, {"max_chars": 1e3}]
)
def test_bad_parameters(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        DocumentIndex(**kwargs)


def test_metadata_values_are_made_json() -> None:
    index = DocumentIndex()
    index.add(
        "a",
        "Text.",
        {"day": dt.date(2024, 5, 1), "tags": ("x", "y"), "set": {"b", "a"}, "n": {"k": None}},
    )
    assert dict(index.document("a").metadata) == {
        "day": "2024-05-01",
        "tags": ["x", "y"],
        "set": ["a", "b"],
        "n": {"k": None},
    }
    with pytest.raises(TypeError):
        index.document("a").metadata["day"] = "x"  # type: ignore[index]


# --- search ---------------------------------------------------------------------------------

CORPUS = {
    "renal": "Dose adjustment in renal impairment: halve the dose when kidney function is low.",
    "hepatic": "Liver disease: avoid the drug in severe hepatic impairment.",
    "storage": "Store tablets below 25 degrees, away from light and moisture.",
    "pregnancy": "Do not use during pregnancy; the drug harms the unborn child.",
    "overdose": "An overdose causes dizziness; give activated charcoal.",
}


def _corpus_index() -> DocumentIndex:
    index = DocumentIndex()
    for i, (doc_id, text) in enumerate(CORPUS.items()):
        index.add(doc_id, text, {"region": "EU" if i % 2 else "US"})
    return index


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("kidney dosing", "renal"),
        ("Can I take it during pregnancy?", "pregnancy"),
        ("how should the tablets be stored", "storage"),
        ("liver", "hepatic"),
        ("too many pills, feeling dizzy", "overdose"),
    ],
)
def test_bm25_ranks_the_relevant_document_first(query: str, best: str) -> None:
    hits = _corpus_index().search(query, k=3)
    assert hits[0][0].doc_id == best
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(s > 0 for s in scores)


def test_no_match_gives_nothing() -> None:
    index = _corpus_index()
    assert index.search("xylophone") == []
    assert index.search("the and of") == []  # stopwords only
    assert index.search("") == []
    assert index.search("dose", k=0) == []
    assert DocumentIndex().search("anything") == []
    stop = DocumentIndex()
    stop.add("s", "The and of.")  # a corpus with no searchable term at all
    assert len(stop) == 1
    assert stop.search("the") == []


def test_zero_scores_are_left_out_and_ties_break_by_chunk_id() -> None:
    index = DocumentIndex()
    for doc_id in ("b", "a", "c"):
        index.add(doc_id, "Identical text about aspirin.")
    index.add("z", "Something else entirely.")
    hits = index.search("aspirin", k=10)
    assert [c.chunk_id for c, _ in hits] == ["a#0", "b#0", "c#0"]
    assert len({s for _, s in hits}) == 1
    assert [c.chunk_id for c, _ in index.search("aspirin", k=2)] == ["a#0", "b#0"]


def test_headings_are_searchable() -> None:
    index = DocumentIndex()
    index.add("sop", "# Pharmacovigilance\n\nReport within fifteen days.")
    index.add("other", "Report the weather.")
    assert index.search("pharmacovigilance")[0][0].chunk_id == "sop#0"


def test_where_filters_before_ranking() -> None:
    index = DocumentIndex()
    # the forbidden documents are the best matches by far
    for n in range(5):
        index.add(f"secret{n}", "Merger merger merger plans.", {"classification": "secret"})
    index.add(
        "public", "Old merger rumours and other news, weather, sport.", {"classification": "public"}
    )
    unfiltered = index.search("merger", k=1)
    assert unfiltered[0][0].doc_id.startswith("secret")
    calls: list[str] = []

    def public(chunk: Chunk) -> bool:
        calls.append(chunk.chunk_id)
        return chunk.metadata.get("classification") == "public"

    for k in (1, 3, 100):
        hits = index.search("merger", k=k, where=public)
        assert [c.doc_id for c, _ in hits] == ["public"]
    assert index.search("merger", where=lambda c: False) == []
    assert set(calls) == {c.chunk_id for c in index.chunks()}  # every match was filtered


def test_where_with_a_policy_document_filter() -> None:
    cat = Catalog()
    cat.add_document_rule("collection:default", "group:staff", where={"region": ":region"})
    eu = cat.document_filter(
        Principal("e", groups=["staff"], attributes={"region": "EU"}), "default"
    )
    index = _corpus_index()
    hits = index.search(
        "drug dose tablets light charcoal liver", k=10, where=lambda c: eu.matches(c.metadata)
    )
    assert hits
    assert {c.metadata["region"] for c, _ in hits} == {"EU"}
    assert {c.doc_id for c, _ in hits} <= {"hepatic", "pregnancy"}


# --- persistence ----------------------------------------------------------------------------

QUERIES = ["renal dose", "liver", "tablets light", "dizzy overdose", "xylophone", "Dosing guide"]


def _everything(index: DocumentIndex) -> tuple[Any, ...]:
    return (
        index.documents(),
        index.chunks(),
        index.collections(),
        index.params,
        index.collection,
        [index.search(q, k=5) for q in QUERIES],
        [index.search(q, where=lambda c: c.metadata.get("region") == "EU") for q in QUERIES],
    )


def test_save_and_load_give_the_same_index(tmp_path: Path, folder: Path) -> None:
    index = DocumentIndex("labels", max_chars=120, overlap=30, k1=1.2, b=0.6)
    for doc_id, text in CORPUS.items():
        index.add(doc_id, text, {"region": "EU", "n": [1, 2.5, None]})
    index.add_folder(folder, collection="sops")
    index.add("empty", "")
    before = _everything(index)
    index.save(tmp_path / "idx")
    loaded = DocumentIndex.load(tmp_path / "idx")
    assert _everything(loaded) == before
    _assert_offsets(loaded)
    # a loaded index keeps working: changes rebuild its BM25 index
    loaded.add("new", "Fresh text about xylophones.")
    assert loaded.search("xylophone")[0][0].doc_id == "new"
    loaded.remove("renal")
    assert all(c.doc_id != "renal" for c, _ in loaded.search("renal dose"))
    # saving again over the same directory
    loaded.save(tmp_path / "idx")
    assert _everything(DocumentIndex.load(tmp_path / "idx")) == _everything(loaded)


def test_save_an_index_without_chunks(tmp_path: Path) -> None:
    index = DocumentIndex()
    index.add("empty", "")
    index.add("stop", "the of and")
    index.save(tmp_path / "idx")
    loaded = DocumentIndex.load(tmp_path / "idx")
    assert loaded.documents() == index.documents()
    assert loaded.search("anything") == []


def _corrupt(path: Path, name: str, edit: Callable[[str], str]) -> None:
    file = path / name
    file.write_text(edit(file.read_text("utf-8")), "utf-8")


@pytest.mark.parametrize(
    ("damage", "bad_file", "message"),
    [
        (lambda p: (p / "manifest.json").unlink(), "manifest.json", "no manifest.json"),
        (lambda p: _corrupt(p, "manifest.json", lambda t: t[:20]), "manifest.json", "corrupt"),
        (
            lambda p: _corrupt(
                p, "manifest.json", lambda t: t.replace('"version": 1', '"version": 99')
            ),
            "manifest.json",
            "format version 99",
        ),
        (
            lambda p: _corrupt(p, "manifest.json", lambda t: t.replace("crossroads.document", "x")),
            "manifest.json",
            "not a crossroads document index",
        ),
        (
            lambda p: _corrupt(p, "documents.jsonl", lambda t: t.replace("Alpha", "Omega")),
            "documents.jsonl",
            "checksum",
        ),
        (lambda p: (p / "chunks.jsonl").unlink(), "chunks.jsonl", "missing"),
        (
            lambda p: (p / "bm25" / "vocab.index.json").unlink(),
            "bm25/vocab.index.json",
            "missing",
        ),
        (
            lambda p: _corrupt(p, "bm25/params.index.json", lambda t: t.replace("1.5", "2.5")),
            "bm25/params.index.json",
            "checksum",
        ),
    ],
)
def test_load_refuses_a_damaged_directory(
    tmp_path: Path, damage: Callable[[Path], None], bad_file: str, message: str
) -> None:
    index = DocumentIndex()
    index.add("a", "Alpha text.")
    index.save(tmp_path)
    damage(tmp_path)
    with pytest.raises(ConfigError, match=message) as err:
        DocumentIndex.load(tmp_path)
    assert err.value.file == str(tmp_path / bad_file)
    assert "build the index again" in str(err.value).lower()


def test_load_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a directory") as err:
        DocumentIndex.load(tmp_path / "nothing")
    assert err.value.file == os.fspath(tmp_path / "nothing")
