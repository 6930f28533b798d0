"""Markdown list items are sentences of their own, with or without a full stop; a list
item's number ("2. ") does not end a sentence."""

from __future__ import annotations

from crossroads.connectors._chunking import sentences

TEXT = """Related documents:
- EU Good Pharmacovigilance Practices (GVP) Module VI
- SOP-MI-002 Medical information enquiry handling
* SOP-PV-003 Signal detection

1. Enter every report within 1 calendar day. Check it twice.
2. Code reactions with MedDRA.
3) Close the case.
Dr.
Smith signs. It is -5 degrees."""


def split(text: str) -> list[str]:
    return [text[s.start : s.end] for s in sentences(text)]


def test_each_list_item_is_a_sentence() -> None:
    assert split(TEXT) == [
        "Related documents:",
        "- EU Good Pharmacovigilance Practices (GVP) Module VI",
        "- SOP-MI-002 Medical information enquiry handling",
        "* SOP-PV-003 Signal detection",
        "1. Enter every report within 1 calendar day.",
        "Check it twice.",
        "2. Code reactions with MedDRA.",
        "3) Close the case.",
        "Dr.\nSmith signs.",  # an abbreviation still ends nothing
        "It is -5 degrees.",  # "-5" is no list marker
    ]


def test_a_list_without_items_is_unchanged() -> None:
    text = "Store below 25 °C. Keep the bottle closed.\n\nShelf life: 3 years."
    assert split(text) == ["Store below 25 °C.", "Keep the bottle closed.", "Shelf life: 3 years."]
