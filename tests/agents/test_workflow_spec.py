"""Loading workflow files: the shape, the checks, and errors that say which line and what
to do. Cases are data: a broken workflow and the line and words its first error must have."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossroads.agents._workflow_spec import Workflow
from crossroads.errors import ConfigError

ROOT = Path(__file__).parent.parent.parent

GOOD = """\
name: weekly
inputs:
  week: {default: "2024-01-01", description: the week}
  threshold: {default: 2}
  region: {description: "required, no default"}
steps:
  - id: counts
    kind: sql
    query: SELECT product, COUNT(*) FROM ae WHERE week = {{ inputs.week }} GROUP BY 1
  - id: links
    kind: graph
    when: steps.counts.rows[0][1] > inputs.threshold
    start: "{{ steps.counts.rows[0][0] }}"
    path: interacts_with
    retries: 2
    retry_delay: 0.5
  - id: label
    kind: rag
    question: What does the label say about {{ steps.counts.rows[0][0] }}?
  - id: send
    kind: tool
    name: mail.send
    args: {to: [pv@example.com], n: "{{ steps.counts.row_count }}"}
  - id: ok
    kind: approval
    message: Publish?
    approvers: [carol, "group:pv_officer"]
report: |
  # {{ inputs.week }}
  {{ steps.counts | table }}
  {{ steps.ok.approved }} {{ run.id }}
"""


def test_a_good_workflow_loads_into_frozen_values() -> None:
    wf = Workflow.from_text(GOOD, source="weekly.yaml")
    assert [s.id for s in wf.steps] == ["counts", "links", "label", "send", "ok"]
    assert [s.kind for s in wf.steps] == ["sql", "graph", "rag", "tool", "approval"]
    links = wf.step("links")
    assert links.retries == 2
    assert links.retry_delay == 0.5
    assert links.line == 10
    assert links.when is not None
    assert links.when.source.startswith("steps.counts")
    assert wf.step("ok").approvers == ("carol", "group:pv_officer")
    assert wf.inputs["region"].required
    assert not wf.inputs["week"].required
    assert len(wf.digest) == 64
    with pytest.raises(AttributeError):
        wf.name = "other"  # type: ignore[misc]


def test_inputs_are_resolved_and_coerced() -> None:
    wf = Workflow.from_text(GOOD)
    assert wf.resolve_inputs({"region": "EU", "threshold": "5"}) == {
        "week": "2024-01-01",
        "threshold": 5,
        "region": "EU",
    }
    with pytest.raises(ConfigError, match=r"needs the input 'region'.*--input region=VALUE"):
        wf.resolve_inputs({})
    with pytest.raises(ConfigError, match="no input 'wek'; did you mean 'week'"):
        wf.resolve_inputs({"wek": "x", "region": "EU"})
    with pytest.raises(ConfigError, match="takes a int"):
        wf.resolve_inputs({"threshold": "many", "region": "EU"})


def test_the_example_workflows_load() -> None:
    for path in sorted((ROOT / "examples" / "pharma" / "workflows").glob("*.yaml")):
        wf = Workflow.from_yaml(path)
        assert wf.steps, path


BASE = "name: w\ninputs:\n  week: {default: x}\nsteps:\n"

# (steps and report YAML appended to BASE, the line of the first error, words it must hold)
CASES = [
    ("  - {id: a, kind: sq, query: x}\n", 5, "unknown step kind 'sq'; did you mean 'sql'?"),
    ("  - {id: a, kind: sql}\n", 5, "missing required key 'query'"),
    ("  - {id: a, kind: sql, query: x, question: y}\n", 5, "unknown key 'question'"),
    (
        "  - {id: a, kind: sql, query: x}\n  - {id: a, kind: rag, question: y}\n",
        6,
        "two steps are named 'a' (the first on line 5)",
    ),
    ("  - {id: 1a, kind: sql, query: x}\n", 5, "must start with a letter"),
    (
        "  - id: a\n    kind: sql\n    query: x {{ steps.b.rows }}\n"
        "  - {id: b, kind: sql, query: y}\n",
        7,
        "steps.b runs later (step 2)",
    ),
    (
        "  - id: a\n    kind: sql\n    query: x\n    when: steps.a.row_count > 0\n",
        8,
        "a step cannot use its own output",
    ),
    (
        "  - id: a\n    kind: sql\n    query: '{{ inputs.wek }}'\n",
        7,
        "no input 'wek' is declared; did you mean 'week'?",
    ),
    (
        "  - {id: a, kind: sql, query: x}\n  - id: b\n    kind: rag\n"
        "    question: '{{ steps.a.rowz }}'\n",
        8,
        "has no 'rowz'; did you mean 'rows'?",
    ),
    (
        "  - id: a\n    kind: sql\n    query: \"x = '{{ inputs.week }}'\"\n",
        7,
        "do not put quotes around it",
    ),
    ("  - {id: a, kind: graph, start: x}\n", 5, "add path:"),
    ("  - {id: a, kind: graph, question: q, start: x, path: p}\n", 5, "not both"),
    ("  - {id: a, kind: approval, message: m, approvers: []}\n", 5, "at least 1 item"),
    (
        "  - {id: a, kind: approval, message: m, approvers: ['role:x']}\n",
        5,
        "is not a principal id, 'user:ID' or 'group:NAME'",
    ),
    ("  - {id: a, kind: sql, query: x, retries: -1}\n", 5, "greater than or equal to 0"),
    (
        "  - {id: a, kind: sql, query: x, when: 'steps.a.__dict__'}\n",
        5,
        "names starting with '_' are not allowed",
    ),
    (
        "  - {id: a, kind: sql, query: x}\nreport: |\n  line one\n  line two {{ steps.b.text }}\n",
        8,
        "no step 'b'",
    ),
    (
        "  - {id: a, kind: sql, query: x}\nreport: |\n  ok\n  {{ run.ids }}\n",
        8,
        "run has no 'ids'; did you mean 'id'?",
    ),
    ("  - {id: a, kind: sql, query: x}\nreport: |\n  a\n\n  {% if x %}\n", 9, "no {% if %}"),
    (
        "  - {id: a, kind: sql, query: x}\n  - {id: a, kind: sql, query: x}\n  oops\n",
        8,
        "invalid YAML",
    ),
]


@pytest.mark.parametrize(("body", "line", "words"), CASES)
def test_broken_workflows_say_which_line_and_what_to_do(body: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        Workflow.from_text(BASE + body, source="w.yaml")
    assert info.value.line == line, str(info.value)
    assert words in str(info.value)
    assert str(info.value).startswith(f"w.yaml:{line}:")


def test_every_problem_is_reported_together() -> None:
    body = "  - {id: a, kind: sq, query: x}\n  - {id: b, kind: sql}\n"
    with pytest.raises(ConfigError, match="1 more problem") as info:
        Workflow.from_text(BASE + body, source="w.yaml")
    assert "w.yaml:6: steps[1].query" in str(info.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "the workflow file is empty"),
        ("- a\n- b\n", "must be a mapping"),
        ("name: w\nsteps: []\n", "at least 1 item"),
        ("name: w\nsteps: [{id: a, kind: sql, query: x}]\nextra: 1\n", "unknown key 'extra'"),
        ("name: w\nname: v\nsteps: [{id: a, kind: sql, query: x}]\n", "appears twice"),
    ],
)
def test_file_level_problems(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        Workflow.from_text(text, source="w.yaml")
    assert words in str(info.value)


def test_a_missing_file_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Workflow.from_yaml(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        Workflow.from_yaml(tmp_path)


def test_unknown_step_id_suggests_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'counts'"):
        Workflow.from_text(GOOD).step("count")
