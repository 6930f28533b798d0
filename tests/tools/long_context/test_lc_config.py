"""Building a LongContext: its defaults, the runner and its catalog, the model, the tool it
registers (long_context.ask, callable through a shared runner) and the principal every
call needs."""

from __future__ import annotations

import pytest

from crossroads.audit import AuditLog
from crossroads.connectors import DocumentIndex
from crossroads.errors import ConfigError, ToolError
from crossroads.policy import Catalog, Principal
from crossroads.tools import ToolRunner
from crossroads.tools.long_context import ApproxTokenCounter, LongContext, LongContextTool
from crossroads.tools.rag import DocumentAnswer

EVA = Principal("eva", groups=["medical_info"], attributes={"region": "EU"})


def test_defaults(index: DocumentIndex, catalog: Catalog) -> None:
    lc = LongContext(index, catalog, audit=AuditLog.memory())
    assert (lc.budget_tokens, lc.min_overlap, lc.sentences_per_document) == (100_000, 0.5, 2)
    assert (lc.llm, lc.collections) == (None, None)
    assert isinstance(lc.counter, ApproxTokenCounter)
    assert lc.index is index
    assert lc.catalog is catalog
    assert isinstance(lc.runner.tools["long_context.ask"], LongContextTool)


def test_a_runner_with_another_catalog_is_refused(index: DocumentIndex, catalog: Catalog) -> None:
    runner = ToolRunner(Catalog(), audit=AuditLog.memory())
    with pytest.raises(ConfigError, match="share one catalog"):
        LongContext(index, catalog, runner=runner)
    assert runner.tools == {}  # nothing registered on the way out


def test_a_shared_runner_gets_the_tool(index: DocumentIndex, catalog: Catalog) -> None:
    audit = AuditLog.memory()
    runner = ToolRunner(catalog, audit=audit)
    lc = LongContext(index, catalog, runner=runner)
    assert lc.runner is runner
    result = runner.call("long_context.ask", {"question": "Compare the labels"}, principal=EVA)
    assert isinstance(result.value, DocumentAnswer)
    assert [s.doc_id for s in result.value.sources] == ["label-cardiozol-eu", "mil-2024-031"]
    assert result.permit.rule == "rag.document_rules"
    assert {e.name for e in audit.events()} == {"long_context.ask"}


def test_the_tool_describes_itself(index: DocumentIndex, catalog: Catalog) -> None:
    tool = LongContext(index, catalog, audit=AuditLog.memory()).runner.tools["long_context.ask"]
    assert tool.name == "long_context.ask"
    assert "every document you may read" in tool.description
    assert tool.Args.model_json_schema()["required"] == ["question"]


@pytest.mark.parametrize("question", ["", "x" * 4001])
def test_a_question_out_of_bounds_is_a_bad_argument(
    index: DocumentIndex, catalog: Catalog, question: str
) -> None:
    lc = LongContext(index, catalog, audit=AuditLog.memory())
    with pytest.raises(ToolError, match=r"bad arguments for tool 'long_context\.ask'"):
        lc.ask(question, EVA)


def test_a_model_without_complete_is_refused(index: DocumentIndex, catalog: Catalog) -> None:
    with pytest.raises(ConfigError):
        LongContext(index, catalog, audit=AuditLog.memory(), llm="gpt-4o-mini")  # type: ignore[arg-type]


def test_every_call_needs_a_principal(index: DocumentIndex, catalog: Catalog) -> None:
    lc = LongContext(index, catalog, audit=AuditLog.memory())
    with pytest.raises(ConfigError, match="needs a Principal"):
        lc.ask("Compare the labels", "eva")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a Principal"):
        lc.ask("Compare the labels", None)  # type: ignore[arg-type]
