"""Backends behind one small protocol per kind (see :mod:`crossroads.connectors.base`).

SQL databases through SQLAlchemy (:class:`SQLDatabase`); graph stores in memory on
networkx (:class:`NetworkXGraph`) or on a Neo4j server (:class:`Neo4jGraph`); documents
cut into chunks and ranked with BM25, dense vectors or both (:class:`DocumentIndex`),
embedded by a local model (:class:`SentenceTransformerEmbedder`, the ``dense`` extra) or
an OpenAI-compatible endpoint (:class:`OpenAIEmbeddings`); language
models over httpx in :mod:`crossroads.connectors.llm`. Connectors know nothing of
policy: only tools call them, and tools run only through the runner.
"""

from crossroads.connectors._documents import DocumentIndex, SearchMode
from crossroads.connectors._embed import OpenAIEmbeddings, SentenceTransformerEmbedder
from crossroads.connectors._graph_neo4j import Neo4jGraph
from crossroads.connectors._graph_nx import NetworkXGraph
from crossroads.connectors._sql import SQLDatabase
from crossroads.connectors.base import (
    LLM,
    Chunk,
    Column,
    Completion,
    Document,
    DocumentStore,
    Edge,
    Embedder,
    ForeignKey,
    GraphStore,
    Message,
    QueryResult,
    Schema,
    SQLBackend,
    Table,
    Usage,
)

__all__ = [
    "LLM",
    "Chunk",
    "Column",
    "Completion",
    "Document",
    "DocumentIndex",
    "DocumentStore",
    "Edge",
    "Embedder",
    "ForeignKey",
    "GraphStore",
    "Message",
    "Neo4jGraph",
    "NetworkXGraph",
    "OpenAIEmbeddings",
    "QueryResult",
    "SQLBackend",
    "SQLDatabase",
    "Schema",
    "SearchMode",
    "SentenceTransformerEmbedder",
    "Table",
    "Usage",
]
