"""Saving a :class:`~crossroads.connectors.DocumentIndex` to a directory and loading it back.

::

    index/
      manifest.json      format and version, parameters, counts, checksums (written last)
      documents.jsonl    one document a line: id, collection, text, metadata
      chunks.jsonl       one chunk a line, in BM25 row order: id, document, offsets, heading
      bm25/              the bm25s index, in bm25s' own format
      vectors.npy        with an embedder: float32 unit-length chunk vectors, in chunk order

Chunk texts are not stored: they are the document's text between the offsets.
Loading checks the format version and the checksums, so a directory changed or
truncated after saving is refused rather than searched with wrong results. The
manifest's ``vectors`` entry names the embedder and its dimension: vectors are
loaded only for the same embedder, since another model's query vectors would be
compared with them meaninglessly.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from crossroads.connectors.base import Chunk, Document, Embedder
from crossroads.errors import ConfigError

if TYPE_CHECKING:
    from crossroads.connectors._documents import DocumentIndex, _Built
    from crossroads.connectors._vectors import Matrix, Vectors

__all__ = ["FORMAT", "FORMAT_VERSION", "load_index", "save_index"]

FORMAT = "crossroads.document-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
CHUNKS = "chunks.jsonl"
BM25 = "bm25"
VECTORS = "vectors.npy"
# How BM25 sees a chunk; recorded so that an index saved with other settings is refused.
TOKENIZER = {"index_text": "heading + newline + text", "stopwords": "en", "stemmer": "english"}
# What a chunk's vector was embedded from (_vectors.vector_text); vectors made otherwise are
# not loaded.
VECTOR_TEXT = "heading + newline + text (text alone without a heading)"
_MANIFEST_TYPES: tuple[tuple[str, type], ...] = (
    ("collection", str),
    ("params", dict),
    ("sha256", dict),
    ("documents", int),
    ("chunks", int),
    ("bm25", bool),
)
_REBUILD = "build the index again from its sources and save() it"


def save_index(
    index: DocumentIndex, path: Path, built: _Built, vectors: Vectors | None = None
) -> None:
    """Write ``index``, whose BM25 index over its current chunks is ``built`` and whose
    chunk vectors (rows in ``built.order``) are ``vectors``, when it has an embedder.

    Everything is written to a sibling folder first and swapped in only when complete:
    a save that fails leaves the previous save intact.
    """
    final = path
    path = final.parent / f".{final.name}.saving-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        _write(index, path, built, vectors)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    if final.exists():
        os.replace(final, old)
    os.replace(path, final)
    shutil.rmtree(old, ignore_errors=True)


def _write(index: DocumentIndex, path: Path, built: _Built, vectors: Vectors | None) -> None:
    manifest = path / MANIFEST
    chunks = built.order
    with open(path / DOCUMENTS, "w", encoding="utf-8", newline="\n") as out:
        for doc in index.documents():
            row: dict[str, Any] = {
                "id": doc.id,
                "collection": doc.collection,
                "text": doc.text,
                "metadata": dict(doc.metadata),
            }
            out.write(_dump(row) + "\n")
    with open(path / CHUNKS, "w", encoding="utf-8", newline="\n") as out:
        for c in chunks:
            line = {
                "chunk_id": c.chunk_id,
                "doc_id": c.doc_id,
                "start": c.start,
                "end": c.end,
                "heading": c.heading,
            }
            out.write(_dump(line) + "\n")
    sha256 = {DOCUMENTS: _sha256(path / DOCUMENTS), CHUNKS: _sha256(path / CHUNKS)}
    if built.retriever is not None:
        built.retriever.save(str(path / BM25), show_progress=False)
        for file in sorted((path / BM25).iterdir()):
            sha256[f"{BM25}/{file.name}"] = _sha256(file)
    vector_entry: dict[str, Any] | None = None
    if vectors is not None and index.embedder is not None:
        import numpy as np

        from crossroads.connectors._vectors import embedder_name

        with open(path / VECTORS, "wb") as out:
            np.save(out, vectors.matrix, allow_pickle=False)
        sha256[VECTORS] = _sha256(path / VECTORS)
        vector_entry = {
            "embedder": embedder_name(index.embedder),
            "dimension": int(vectors.matrix.shape[1]),
            "rows": int(vectors.matrix.shape[0]),
            "dtype": "float32",
            "text": VECTOR_TEXT,
        }
    import bm25s

    data: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "collection": index.collection,
        "params": index.params,
        "tokenizer": TOKENIZER,
        "documents": index.document_count,
        "chunks": len(chunks),
        "bm25": built.retriever is not None,
        "bm25s": bm25s.__version__,
        "sha256": sha256,
    }
    if vector_entry is not None:
        data["vectors"] = vector_entry
    tmp = path / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, manifest)


def _verify(path: Path, name: str, manifest: dict[str, Any], also: str = "") -> Path:
    """``path / name``, present and matching the manifest's checksum; else ConfigError."""
    file = path / name
    if not file.is_file():
        raise ConfigError(f"missing from the saved index; {_REBUILD}", file=str(file))
    if _sha256(file) != manifest["sha256"].get(name):
        raise ConfigError(
            f"does not match the checksum in {MANIFEST}: the file was changed or truncated "
            f"after saving; {_REBUILD}{also}",
            file=str(file),
        )
    return file


def load_index(
    cls: type[DocumentIndex],
    path: Path,
    *,
    embedder: Embedder | None = None,
    reembed: bool = False,
) -> DocumentIndex:
    """The index saved in ``path``; ConfigError naming the file when it cannot be used.

    Its vectors are read only with an ``embedder`` that made them, and not with
    ``reembed``."""
    if not path.is_dir():
        raise ConfigError(
            f"no saved document index here (not a directory); {_REBUILD} there", file=str(path)
        )
    manifest = _manifest(path / MANIFEST)
    try:
        index = cls(manifest["collection"], **manifest["params"], embedder=embedder)
    except (TypeError, ConfigError) as exc:
        raise ConfigError(
            f"the manifest's collection or params are invalid ({exc}); {_REBUILD}",
            file=str(path / MANIFEST),
        ) from None
    checked = [DOCUMENTS, CHUNKS, *sorted(n for n in manifest["sha256"] if "/" in n)]
    for name in checked:
        _verify(path, name, manifest)
    documents = {d.id: d for d in _documents(path / DOCUMENTS)}
    chunks = list(_chunks(path / CHUNKS, documents))
    if len(documents) != manifest["documents"] or len(chunks) != manifest["chunks"]:
        raise ConfigError(
            f"says {manifest['documents']} documents and {manifest['chunks']} chunks, the "
            f"files hold {len(documents)} and {len(chunks)}; {_REBUILD}",
            file=str(path / MANIFEST),
        )
    retriever = _bm25(path / BM25, len(chunks), index.params) if manifest["bm25"] else None
    vectors = None
    if embedder is not None and not reembed and manifest.get("vectors") is not None:
        vectors = _vectors(path, manifest, embedder, len(chunks))
    index._restore(documents.values(), chunks, retriever, vectors)
    return index


def _vectors(path: Path, manifest: dict[str, Any], embedder: Embedder, rows: int) -> Matrix:
    """The saved chunk vectors, checked against ``embedder`` and the manifest."""
    from crossroads.connectors._vectors import embedder_name

    entry = manifest["vectors"]
    saved_name, saved_dim = entry.get("embedder"), entry.get("dimension")
    name = embedder_name(embedder)
    same = saved_name == name and saved_dim == embedder.dimension
    if not same:
        raise ConfigError(
            f"the index's vectors were made by the embedder {saved_name!r} (dimension "
            f"{saved_dim}), not by {name!r} (dimension {embedder.dimension}): vectors of "
            "different embedders cannot be compared. Re-embed the chunks with "
            "DocumentIndex.load(path, embedder=..., reembed=True) and save() it, or load it "
            "with the embedder it was saved with",
            file=str(path / MANIFEST),
        )
    if entry.get("text") != VECTOR_TEXT:
        raise ConfigError(
            f"the vectors were embedded from {entry.get('text')!r}; this version of crossroads "
            f"embeds {VECTOR_TEXT!r}. Re-embed the chunks with DocumentIndex.load(path, "
            "embedder=..., reembed=True) and save() it",
            file=str(path / MANIFEST),
        )
    file = _verify(path, VECTORS, manifest, ", or load with reembed=True")
    import numpy as np

    try:
        with open(file, "rb") as handle:
            matrix = np.load(handle, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"the vectors cannot be read ({exc}); {_REBUILD}", file=str(file)
        ) from exc
    if matrix.dtype != np.float32 or matrix.shape != (rows, saved_dim):
        raise ConfigError(
            f"holds {matrix.dtype} vectors of shape {matrix.shape}, expected float32 "
            f"({rows}, {saved_dim}); {_REBUILD}",
            file=str(file),
        )
    out: Matrix = matrix
    return out


def _manifest(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise ConfigError(
            f"no {MANIFEST}: this is not a saved document index, or its save was interrupted; "
            f"{_REBUILD}",
            file=str(file),
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"the manifest is corrupt ({exc}); {_REBUILD}", file=str(file)) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(
            f'not a crossroads document index manifest (no "format": {FORMAT!r}); {_REBUILD}',
            file=str(file),
        )
    if data.get("version") != FORMAT_VERSION:
        raise ConfigError(
            f"the index was saved in format version {data.get('version')!r}; this version of "
            f"crossroads reads version {FORMAT_VERSION}. {_REBUILD[0].upper()}{_REBUILD[1:]}",
            file=str(file),
        )
    if data.get("tokenizer") != TOKENIZER:
        raise ConfigError(
            f"the index was tokenized as {data.get('tokenizer')!r}, this version of crossroads "
            f"tokenizes as {TOKENIZER!r}; {_REBUILD}",
            file=str(file),
        )
    for key, kind in _MANIFEST_TYPES:
        if not isinstance(data.get(key), kind):
            raise ConfigError(f"the manifest has no valid {key!r}; {_REBUILD}", file=str(file))
    vectors = data.get("vectors")
    if vectors is not None and not (
        isinstance(vectors, dict)
        and isinstance(vectors.get("embedder"), str)
        and isinstance(vectors.get("dimension"), int)
    ):
        raise ConfigError(f"the manifest has no valid 'vectors'; {_REBUILD}", file=str(file))
    return data


def _rows(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(file, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"corrupt line ({exc.msg}); {_REBUILD}", file=str(file), line=lineno
                ) from exc
            if not isinstance(row, dict):
                raise ConfigError(
                    f"corrupt line (not an object); {_REBUILD}", file=str(file), line=lineno
                )
            yield lineno, row


def _documents(file: Path) -> Iterator[Document]:
    for lineno, row in _rows(file):
        try:
            doc_id, coll, text, meta = row["id"], row["collection"], row["text"], row["metadata"]
            if not (isinstance(doc_id, str) and isinstance(coll, str) and isinstance(text, str)):
                raise TypeError("id, collection and text must be strings")
            yield Document(doc_id, coll, text, MappingProxyType(dict(meta)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"corrupt document ({exc}); {_REBUILD}", file=str(file), line=lineno
            ) from exc


def _chunks(file: Path, documents: dict[str, Document]) -> Iterator[Chunk]:
    ordinal: dict[str, int] = {}
    metadata: dict[str, MappingProxyType[str, Any]] = {}
    for lineno, row in _rows(file):
        try:
            doc = documents[row["doc_id"]]
            start, end, heading = row["start"], row["end"], row["heading"]
            n = ordinal.get(doc.id, 0)
            ordinal[doc.id] = n + 1
            if row["chunk_id"] != f"{doc.id}#{n}":
                raise ValueError(f"chunk id {row['chunk_id']!r} should be {doc.id}#{n}")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end):
                raise ValueError("bad offsets")
            if end > len(doc.text) or not isinstance(heading, str):
                raise ValueError("offsets past the end of the document")
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"corrupt chunk ({exc}); {_REBUILD}", file=str(file), line=lineno
            ) from exc
        meta = metadata.get(doc.id)
        if meta is None:
            meta = metadata[doc.id] = MappingProxyType(
                {**doc.metadata, "collection": doc.collection}
            )
        yield Chunk(
            f"{doc.id}#{n}", doc.id, doc.collection, doc.text[start:end], start, end, heading, meta
        )


def _bm25(directory: Path, rows: int, params: dict[str, Any]) -> Any:
    import bm25s

    try:
        retriever = bm25s.BM25.load(str(directory), show_progress=False)
        num_docs = retriever.scores["num_docs"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"the BM25 index cannot be read ({exc}); {_REBUILD}", file=str(directory)
        ) from exc
    if num_docs != rows or (retriever.k1, retriever.b) != (params["k1"], params["b"]):
        raise ConfigError(
            f"the BM25 index ({num_docs} rows, k1={retriever.k1}, b={retriever.b}) does not "
            f"match {CHUNKS} and {MANIFEST} ({rows} chunks, k1={params['k1']}, b={params['b']}); "
            f"{_REBUILD}",
            file=str(directory),
        )
    return retriever


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
