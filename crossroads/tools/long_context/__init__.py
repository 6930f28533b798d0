"""The long-context route: the principal's whole permitted corpus read at once, within a
token budget; over it, a clear refusal the router falls back from.

::

    lc = LongContext(idx, catalog, budget_tokens=100_000)
    lc.ask("Summarise every SOP", alice)    # DocumentAnswer, a citation per document
"""

from crossroads.tools.long_context._long_context import (
    ApproxTokenCounter,
    Corpus,
    LongContext,
    LongContextTool,
    TokenCounter,
    assemble,
    is_holistic,
)

__all__ = [
    "ApproxTokenCounter",
    "Corpus",
    "LongContext",
    "LongContextTool",
    "TokenCounter",
    "assemble",
    "is_holistic",
]
