"""The serializer every crossroads checkpointer uses: plain data only.

LangGraph's default serializer revives any importable constructor named in a stored
checkpoint, so a planted checkpoint file could run code when a conversation or a
workflow run is loaded. crossroads keeps only JSON-ready state in its graphs
(conversation turns, step outputs), so its checkpointers read and write with the
msgpack allow-list closed: nothing but plain values ever comes back.
"""

from __future__ import annotations

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

__all__ = ["safe_serde"]


def safe_serde() -> JsonPlusSerializer:
    """A serializer that revives no Python objects and never unpickles."""
    return JsonPlusSerializer(pickle_fallback=False, allowed_msgpack_modules=None)
