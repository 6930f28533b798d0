"""Labelled questions of the pharma domain: the document routes (RAG and long context),
compound questions, and all of them together, split into ``fit`` and ``heldout``."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from ._company import PRODUCTS
from ._graph import Graph
from ._labels import WARNINGS
from ._questions_graph import GRAPH_HELDOUT_ONLY, graph_questions
from ._questions_sql import SQL_HELDOUT_ONLY, sql_questions

# (template id, question, section of the label it asks about, who asks: EU or US medical info)
_RAG_LABEL_TEMPLATES: list[tuple[str, str, str]] = [
    ("r01", "What does the {p} {r} label say about dosing in renal impairment?", "renal"),
    ("r02", "What is the recommended dose of {p} in the {r}?", "dosage"),
    ("r03", "Can {p} be used during pregnancy according to the {r} label?", "pregnancy"),
    ("r04", "How should {p} be stored and what is its shelf life?", "storage"),
    ("r05", "What are the contraindications of {p} in the {r} label?", "contraindications"),
    ("r06", "Which drug interactions does the {p} {r} label describe?", "interactions"),
    ("r07", "What does the {p} label warn about {t}?", "warnings"),
    ("r08", "What is {p} indicated for according to the {r} label?", "indications"),
    # held out only
    ("r09", "Is {p} safe while breast-feeding, per the {r} label?", "pregnancy"),
    ("r10", "How is {p} dosed when creatinine clearance is low?", "renal"),
]
_RAG_HELDOUT_ONLY = {"r09", "r10", "r12"}

# questions on one SOP or letter, worded as their readers ask them: (question, document id)
_RAG_FACTS: list[tuple[str, str]] = [
    ("Within how many calendar days must serious cases be submitted to the EMA and the FDA?",
     "sop-pv-001"),
    ("What are the four minimum criteria that define Day 0 for an adverse event report?",
     "sop-pv-001"),
    ("How many follow-up requests for missing information does case processing send?",
     "sop-pv-001"),
    ("How quickly must urgent medical information enquiries be answered?", "sop-mi-002"),
    ("When are off-label questions answered by medical information?", "sop-mi-002"),
    ("What disproportionality thresholds (PRR, chi-squared, number of cases) define a signal?",
     "sop-pv-003"),
    ("How often is EudraVigilance eRMR data reviewed for products with additional monitoring?",
     "sop-pv-003"),
    ("Within how many days must safety-related label changes be submitted to health "
     "authorities after CCDS approval?", "sop-ra-004"),
    ("How quickly are product quality complaints triaged?", "sop-qa-005"),
    ("How long are complaint files kept after the batch expiry date?", "sop-qa-005"),
    ("How often must every standard response letter be reviewed?", "sop-mi-006"),
    ("Within how many days of the data lock point are PSURs covering up to 12 months "
     "submitted?", "sop-pv-007"),
    ("Can Cardiozen tablets be crushed and given through a nasogastric tube?",
     "letter-cardiozen-crushing"),
    ("How much lactose monohydrate does each Glucatrol 100 mg tablet contain?",
     "letter-glucatrol-lactose"),
    ("How much grapefruit juice may patients on Lipidex drink?", "letter-lipidex-grapefruit"),
    ("Should live vaccines be given during Immunora treatment?", "letter-immunora-vaccines"),
    ("How should Neurovia be tapered to avoid discontinuation symptoms?",
     "letter-neurovia-discontinuation"),
    ("Can Gastrolin be taken with clopidogrel?", "letter-gastrolin-clopidogrel"),
    ("What starting dose of Renavast is recommended in patients over 85 years?",
     "letter-renavast-elderly"),
    ("How should Hepalin be dosed in obese patients above 144 kg?", "letter-hepalin-obesity"),
    ("Is Oncoreva exposure higher in mild hepatic impairment?", "letter-oncoreva-hepatic"),
    ("How do you switch a patient from warfarin to Cardiozen?",
     "letter-cardiozen-switching-warfarin"),
]  # fmt: skip
# which asker may read each fact's document (see policy.yaml)
_FACT_READER = {"sop": "alice", "EU": "alice", "US": "erin", "global": "alice"}


def _warning_topic(text: str) -> str:
    head = text.split(":", 1)[0] if ":" in text[:60] else text.split(" ", 3)[-1][:0]
    return head.replace("{p}", "").strip().lower()


def _rag_questions(docs: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    by_id = {d["id"]: d for d in docs}
    out = []
    for tid, text, section in _RAG_LABEL_TEMPLATES:
        for p in rng.sample(PRODUCTS, 4 if tid not in _RAG_HELDOUT_ONLY else 3):
            region = rng.choice(["EU", "US"])
            topics = [_warning_topic(w) for w in WARNINGS[p["name"]]]
            topics = [t for t in topics if t and len(t) < 40]
            if tid == "r07" and not topics:
                continue
            question = text.format(p=p["name"], r=region, t=rng.choice(topics) if topics else "")
            doc = f"label-{p['name'].lower()}-{region.lower()}-{section}"
            assert doc in by_id
            out.append(
                {
                    "template": tid,
                    "question": question,
                    "route": "rag",
                    "failure_mode": "knowledge_gap",
                    "principal": "alice" if region == "EU" else "erin",
                    "doc": doc,
                }
            )
    for i, (question, doc) in enumerate(_RAG_FACTS):
        d = by_id[doc]
        region = "sop" if d["collection"] == "sops" else d["metadata"]["region"]
        out.append(
            {
                "template": "r11" if i % 3 else "r12",
                "question": question,
                "route": "rag",
                "failure_mode": "knowledge_gap",
                "principal": _FACT_READER[region],
                "doc": doc,
            }
        )
    return out


_LC_TOPICS = ["timelines", "escalation", "training", "records and archiving", "quality checks",
              "scope", "definitions", "responsibilities"]  # fmt: skip
_LC_TEMPLATES: list[tuple[str, str]] = [
    ("l01", "Summarise every change across our SOPs."),
    ("l02", "Compare what all the SOPs say about {t}."),
    ("l03", "List every SOP's owner."),
    ("l04", "Give an overview of the {t} in each SOP."),
    ("l05", "Which version of each SOP is current, and when did it take effect?"),
    ("l06", "Summarise the purpose of all our SOPs."),
    ("l07", "Across all SOPs, what deadlines must we meet?"),
    ("l08", "List all the escalation routes in our SOPs."),
    ("l09", "Compare the training requirements across the SOPs."),
    ("l10", "What changed in each SOP's most recent version?"),
    ("l11", "Summarise how every SOP handles {t}."),
    ("l12", "Give me an overview of the records each SOP says we must keep."),
    ("l16", "Summarise all our SOPs, one paragraph each."),
    ("l17", "Compare the quality targets across all SOPs."),
    ("l18", "List every timeline in our SOPs that involves a health authority."),
    ("l19", "Which of our SOPs changed since 2022? Go through all of them."),
    ("l20", "Give an overview of every definition used across the SOPs."),
    # held out only
    ("l13", "Across the whole SOP set, how do the sections on {t} differ?"),
    ("l14", "Who owns each of our procedures? List all of them."),
    ("l15", "Contrast the review cycles described in all the procedures."),
]
_LC_HELDOUT_ONLY = {"l13", "l14", "l15", "l16", "l17"}


def _lc_questions(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for tid, text in _LC_TEMPLATES:
        topics = rng.sample(_LC_TOPICS, 6) if "{t}" in text else [""]
        for topic in topics:
            out.append(
                {
                    "template": tid,
                    "question": text.format(t=topic),
                    "route": "long_context",
                    "failure_mode": "holistic",
                    "principal": rng.choice(["alice", "carol", "dave", "erin"]),
                    "collection": "sops",
                }
            )
    return out


def _join(first: str, second: str) -> str:
    return f"{first.rstrip('?.')}, and {second[0].lower()}{second[1:]}"


def _compound_questions(parts: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Two questions of different routes asked as one, by a principal who may ask both."""
    by_route: dict[str, list[dict[str, Any]]] = {}
    for q in parts:
        by_route.setdefault(q["route"], []).append(q)
    pairs = [("sql", "rag"), ("sql", "graph"), ("graph", "rag"), ("rag", "long_context")]
    out = []
    for a, b in pairs:
        made = 0
        for first in rng.sample(by_route[a], len(by_route[a])):
            if made >= 3:
                break
            if first["principal"] not in ("alice", "carol", "erin"):
                continue
            same = [q for q in by_route[b] if q["principal"] == first["principal"]]
            if a == "sql" and b == "rag":
                product = next((p["name"] for p in PRODUCTS if p["name"] in first["question"]), "")
                same = [q for q in same if product and product in q["question"]] or same
            if not same:
                continue
            second = rng.choice(same)
            made += 1
            out.append(
                {
                    "template": f"c-{a}-{b}",
                    "question": _join(first["question"], second["question"]),
                    "route": "compound",
                    "failure_mode": "compound",
                    "principal": first["principal"],
                    "parts": [
                        {"question": q["question"], "route": q["route"], **_gold(q)}
                        for q in (first, second)
                    ],
                }
            )
    return out


def _gold(q: dict[str, Any]) -> dict[str, Any]:
    return {k: q[k] for k in ("answers", "doc", "collection", "sql") if k in q}


_HELDOUT_ONLY = GRAPH_HELDOUT_ONLY | SQL_HELDOUT_ONLY | _RAG_HELDOUT_ONLY | _LC_HELDOUT_ONLY


def questions(
    g: Graph, docs: list[dict[str, Any]], db: Path, rng: random.Random
) -> list[dict[str, Any]]:
    """All the labelled questions, numbered in a seeded order: the single-route ones and
    compound ones built from them, each marked ``fit`` or ``heldout`` (held-out-only
    templates go to heldout; any other template keeps its first question in fit and splits
    the rest 80/20; compound questions split 60/40)."""
    single = (
        sql_questions(db, rng) + graph_questions(g, rng) + _rag_questions(docs, rng)
        + _lc_questions(rng)
    )  # fmt: skip
    seen: set[str] = set()
    for q in single:
        heldout = q["template"] in _HELDOUT_ONLY
        # every fitted template keeps its first question in fit; the rest split 80/20
        first = q["template"] not in seen
        seen.add(q["template"])
        q["split"] = "heldout" if heldout or (not first and rng.random() < 0.2) else "fit"
    compound = _compound_questions(single, rng)
    for q in compound:
        q["split"] = "heldout" if rng.random() < 0.4 else "fit"
    everything = single + compound
    rng.shuffle(everything)
    keys = ["id", "question", "route", "failure_mode", "split", "principal", "template"]
    out = []
    for n, q in enumerate(everything, 1):
        q["id"] = f"q{n:03d}"
        out.append({k: q[k] for k in keys} | {k: v for k, v in q.items() if k not in keys})
    return out
