"""Workflow templates and conditions: what they evaluate to, what they refuse."""

from __future__ import annotations

from typing import Any

import pytest

from crossroads.agents._templating import Missing, parse_condition, parse_template
from crossroads.errors import ConfigError

CONTEXT: dict[str, Any] = {
    "inputs": {"week": "2024-01-01", "threshold": 2, "regions": ["EU", "US"]},
    "steps": {
        "counts": {
            "columns": ["product", "n"],
            "rows": [["Cardiozol", 3], ["Neurovia", 1]],
            "row_count": 2,
            "text": "ignored",
        },
        "label": {"text": "Rash is common.", "sources": []},
        "gone": {"skipped": True, "reason": "when was false"},
    },
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("steps.counts.rows[0][1] > inputs.threshold", True),
        ("steps.counts.rows[-1][0] == 'Neurovia'", True),
        ("steps.counts['row_count'] >= 3", False),
        ("len(steps.counts.rows) == 2 and not steps.label.sources", True),
        ("'EU' in inputs.regions and 'APAC' not in inputs.regions", True),
        ("inputs.threshold * 2 + 1", 5),
        ("steps.counts.rows[0][1] if steps.counts.row_count else 0", 3),
        ("max(steps.counts | column('n'))", 3),
        ("steps.counts.rows[:1]", [["Cardiozol", 3]]),
        ("1 < inputs.threshold < 3", True),
        ("'a' + 'b'", "ab"),
        ("true and null == None", True),
    ],
)
def test_conditions_evaluate(expression: str, expected: Any) -> None:
    assert parse_condition(expression).evaluate(CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Week {{ inputs.week }}", "Week 2024-01-01"),
        ("{{ steps.counts | column('product') | join(' / ') }}", "Cardiozol / Neurovia"),
        (
            "{{ steps.counts | table }}",
            "| product | n |\n|---|---|\n| Cardiozol | 3 |\n| Neurovia | 1 |",
        ),
        ("{{ steps.label }}", "Rash is common."),  # a step's output reads as its text
        ("{{ steps.gone.text | default('n/a') }}", "n/a"),
        ("{{ inputs.regions }}", "EU, US"),
        ("{{ steps.counts | first | json }}", '["Cardiozol", 3]'),
        ("{{ inputs.week | upper }}{{ 2.5 | round }}", "2024-01-012"),
    ],
)
def test_templates_render(template: str, expected: str) -> None:
    assert parse_template(template).render(CONTEXT) == expected


def test_a_one_hole_template_keeps_its_value_type() -> None:
    assert parse_template("{{ inputs.threshold }}").value(CONTEXT) == 2
    assert parse_template("n={{ inputs.threshold }}").value(CONTEXT) == "n=2"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("steps.__class__", "names starting with '_'"),
        ("inputs.week.upper()", "is not allowed"),
        ("__import__('os')", "is not allowed"),
        ("[x for x in inputs.regions]", "ListComp is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("inputs is None", "'is' is not"),
        ("2 ** 8", "Pow is not allowed"),
        ("stepz.counts", "did you mean 'steps'?"),
        ("steps.counts | tabel", "did you mean 'table'?"),
        ("steps.counts >", "not a valid expression"),
        ("{'a': 1}", "Dict is not allowed"),
    ],
)
def test_unsafe_or_wrong_expressions_are_refused_before_running(
    expression: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_condition(expression)
    assert message in str(info.value)


def test_template_syntax_errors_say_where() -> None:
    with pytest.raises(ConfigError, match="never closed"):
        parse_template("a {{ inputs.week ")
    with pytest.raises(ConfigError, match=r"no \{% if %\} blocks") as info:
        parse_template("line\n{% if x %}")
    assert info.value.line == 2
    with pytest.raises(ConfigError) as located:
        parse_template("first\nsecond {{ inputs. }}")
    assert located.value.line == 2


def test_missing_lookups_say_what_exists() -> None:
    with pytest.raises(Missing, match="did you mean 'rows'"):
        parse_condition("steps.counts.rowz").evaluate(CONTEXT)
    with pytest.raises(Missing, match="2 item"):
        parse_condition("steps.counts.rows[5]").evaluate(CONTEXT)
    with pytest.raises(Missing, match="was skipped"):
        parse_condition("steps.gone.text").evaluate(CONTEXT)
    with pytest.raises(ConfigError, match="has no 'rowz'"):
        parse_template("{{ steps.counts.rowz }}").render(CONTEXT)
    lenient = parse_template("[{{ steps.gone.text }}]").render(CONTEXT, lenient=True)
    assert lenient == "[_(steps.gone was skipped)_]"


def test_type_errors_are_config_errors_not_crashes() -> None:
    with pytest.raises(ConfigError, match="cannot compare"):
        parse_condition("inputs.week > 3").evaluate(CONTEXT)
    with pytest.raises(ConfigError, match=r"str\(x\)"):
        parse_condition("'n=' + inputs.threshold").evaluate(CONTEXT)
    with pytest.raises(ConfigError, match="no column 'nn'; did you mean 'n'"):
        parse_condition("steps.counts | column('nn')").evaluate(CONTEXT)


def test_references_are_the_constant_paths_read() -> None:
    expression = parse_condition("steps.a.rows[0][1] > inputs.t and len(steps.b[inputs.k])")
    paths = [path for path, _ in expression.references(("inputs", "steps"))]
    assert ("steps", "a", "rows", 0, 1) in paths
    assert ("inputs", "t") in paths
    assert ("steps", "b") in paths
    assert ("inputs", "k") in paths


def test_sql_quote_hook_sees_every_value() -> None:
    template = parse_template("WHERE w = {{ inputs.week }} AND n > {{ inputs.threshold }}")
    text = template.render(CONTEXT, quote=lambda v: f"<{v!r}>")
    assert text == "WHERE w = <'2024-01-01'> AND n > <2>"
