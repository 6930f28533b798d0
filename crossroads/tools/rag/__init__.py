"""The RAG route: governed retrieval (document rules applied before ranking) and
answers with chunk-level citations, extractive or model-written.

::

    idx = DocumentIndex.from_jsonl("corpus.jsonl", collection="scifact")
    rag = RAG(idx, catalog)
    rag.retrieve("statins and muscle pain", alice, k=5)   # [Hit(...), ...]
    rag.ask("Do statins cause muscle pain?", alice)       # DocumentAnswer(.text, .sources)
"""

from crossroads.tools.rag._extract import extractive_answer, terms
from crossroads.tools.rag._rag import (
    RAG,
    DocumentAnswer,
    Hit,
    RAGAskTool,
    RAGRetrieveTool,
    Reranker,
    Source,
    readable,
)
from crossroads.tools.rag._rerank import LLMReranker

__all__ = [
    "RAG",
    "DocumentAnswer",
    "Hit",
    "LLMReranker",
    "RAGAskTool",
    "RAGRetrieveTool",
    "Reranker",
    "Source",
    "extractive_answer",
    "readable",
    "terms",
]
