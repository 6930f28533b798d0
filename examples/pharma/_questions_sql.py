"""Labelled SQL questions of the pharma domain, with their gold queries."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

from ._company import MANUFACTURERS, MARKETS, PRODUCTS

# (template id, question, gold SQL (with {x} fills), principal, fill kind)
_SQL_TEMPLATES: list[tuple[str, str, str, str]] = [
    ("s01", "How many serious adverse events were reported in {country} in {year}?",
     "SELECT COUNT(*) FROM adverse_events WHERE seriousness = 'serious' AND country = "
     "'{country}' AND strftime('%Y', reported_on) = '{year}'", "ae_country"),
    ("s02", "How many serious adverse events were reported for {product} in {year}?",
     "SELECT COUNT(*) FROM adverse_events a JOIN products p ON p.id = a.product_id WHERE "
     "a.seriousness = 'serious' AND p.name = '{product}' AND strftime('%Y', a.reported_on) = "
     "'{year}'", "ae_product"),
    ("s03", "Total revenue of {product} in {country} in {year}",
     "SELECT SUM(s.revenue) FROM sales s JOIN products p ON p.id = s.product_id WHERE p.name = "
     "'{product}' AND s.country = '{country}' AND s.year = {year}", "sales_country"),
    ("s04", "Total revenue for each product in {country} in the year {year}",
     "SELECT p.id, p.name, SUM(s.revenue) FROM sales s JOIN products p ON p.id = s.product_id "
     "WHERE s.country = '{country}' AND s.year = {year} GROUP BY p.id, p.name",
     "sales_country"),
    ("s05", "How many adverse events were reported for {product} in {year}?",
     "SELECT COUNT(*) FROM adverse_events a JOIN products p ON p.id = a.product_id WHERE "
     "p.name = '{product}' AND strftime('%Y', a.reported_on) = '{year}'", "ae_product"),
    ("s06", "What is the average enrolment of phase {phase} clinical trials?",
     "SELECT AVG(enrolment) FROM clinical_trials WHERE phase = {phase}", "trials"),
    ("s07", "How many {status} clinical trials are there for {indication}?",
     "SELECT COUNT(*) FROM clinical_trials WHERE status = '{status}' AND indication = "
     "'{indication}'", "trials"),
    ("s08", "How many patients were born before {year}?",
     "SELECT COUNT(*) FROM patients WHERE birth_year < {year}", "patients"),
    ("s09", "How many {sex} patients are there in {country}?",
     "SELECT COUNT(*) FROM patients WHERE sex = '{sex}' AND country = '{country}'",
     "patients"),
    ("s10", "List the products launched after {year}",
     "SELECT name FROM products WHERE launch_year > {year}", "products"),
    ("s11", "Number of adverse events per severity for {product}",
     "SELECT a.severity, COUNT(*) FROM adverse_events a JOIN products p ON p.id = a.product_id "
     "WHERE p.name = '{product}' GROUP BY a.severity", "ae_product"),
    ("s12", "Total revenue by region in {year}",
     "SELECT region, SUM(revenue) FROM sales WHERE year = {year} GROUP BY region", "sales_any"),
    ("s13", "How many adverse events in {country} were {severity}?",
     "SELECT COUNT(*) FROM adverse_events WHERE country = '{country}' AND severity = "
     "'{severity}'", "ae_country"),
    ("s14", "Total enrolment of clinical trials for {indication}",
     "SELECT SUM(enrolment) FROM clinical_trials WHERE indication = '{indication}'", "trials"),
    ("s15", "How many products does {manufacturer} make?",
     "SELECT COUNT(*) FROM products p JOIN manufacturers m ON m.id = p.manufacturer_id WHERE "
     "m.name = '{manufacturer}'", "products"),
    ("s16", "How many fatal adverse events were reported in {year}?",
     "SELECT COUNT(*) FROM adverse_events WHERE outcome = 'fatal' AND strftime('%Y', "
     "reported_on) = '{year}'", "ae_any"),
    ("s17", "Total units of {product} in the year {year}",
     "SELECT SUM(s.units) FROM sales s JOIN products p ON p.id = s.product_id WHERE p.name = "
     "'{product}' AND s.year = {year}", "sales_any"),
    ("s18", "Which product had the most adverse events in {country}?",
     "SELECT p.name FROM adverse_events a JOIN products p ON p.id = a.product_id WHERE "
     "a.country = '{country}' GROUP BY p.name ORDER BY COUNT(*) DESC LIMIT 1", "ae_country"),
    # held out only
    ("s19", "Count the adverse events reported for {product} in {country} in {year}",
     "SELECT COUNT(*) FROM adverse_events a JOIN products p ON p.id = a.product_id WHERE "
     "p.name = '{product}' AND a.country = '{country}' AND strftime('%Y', a.reported_on) = "
     "'{year}'", "ae_country"),
    ("s20", "List the trial codes of phase {phase} clinical trials for {indication}",
     "SELECT trial_code FROM clinical_trials WHERE phase = {phase} AND indication = "
     "'{indication}'", "trials"),
    ("s21", "Number of serious adverse events for each product in {country}",
     "SELECT p.id, p.name, COUNT(*) FROM adverse_events a JOIN products p ON p.id = "
     "a.product_id WHERE a.seriousness = 'serious' AND a.country = '{country}' GROUP BY p.id, "
     "p.name", "ae_country"),
    ("s22", "Which manufacturers are based in {mcountry}?",
     "SELECT name FROM manufacturers WHERE country = '{mcountry}'", "products"),
    ("s23", "How many {sex} patients were born after {year}?",
     "SELECT COUNT(*) FROM patients WHERE sex = '{sex}' AND birth_year > {year}", "patients"),
    ("s24", "What is the generic name of {product}?",
     "SELECT generic_name FROM products WHERE name = '{product}'", "products"),
]  # fmt: skip
SQL_HELDOUT_ONLY = {"s19", "s20", "s21", "s22", "s23", "s24"}
_EU = [m[0] for m in MARKETS if m[2] == "EU"]


def _sql_fill(kind: str, rng: random.Random) -> tuple[dict[str, Any], str]:
    """Values for a template's blanks, and the principal who asks."""
    product = rng.choice(PRODUCTS)
    fill: dict[str, Any] = {
        "product": product["name"],
        "year": rng.choice([2023, 2024, 2025]),
        "phase": rng.choice([1, 2, 3]),
        "status": rng.choice(["completed", "recruiting", "active"]),
        "indication": rng.choice(product["indications"]),
        "sex": rng.choice(["female", "male"]),
        "severity": rng.choice(["mild", "moderate", "severe"]),
        "manufacturer": rng.choice(MANUFACTURERS[:4])[0],
        "mcountry": rng.choice([m[1] for m in MANUFACTURERS]),
    }
    if kind in ("ae_country", "sales_country"):
        principal = rng.choice(["alice", "carol", "bob" if kind == "sales_country" else "carol"])
        if principal == "bob":
            fill["country"] = "United States"
        elif principal == "alice":
            fill["country"] = rng.choice(_EU)
        else:
            fill["country"] = rng.choice([m[0] for m in MARKETS])
        if kind == "sales_country" and principal == "carol":
            principal = "dave"
    elif kind == "ae_product" or kind == "ae_any":
        principal = rng.choice(["alice", "carol", "erin"])
    elif kind == "sales_any":
        principal = rng.choice(["bob", "dave", "alice"])
    elif kind == "trials":
        principal = rng.choice(["alice", "dave", "erin"])
    elif kind == "patients":
        principal = "carol"
        fill["country"] = rng.choice([m[0] for m in MARKETS])
        fill["year"] = rng.choice([1950, 1960, 1975, 1990])
    else:
        principal = rng.choice(["alice", "bob", "dave"])
        fill["year"] = rng.choice([2010, 2012, 2015, 2018])
    return fill, principal


_REGION_ROWS = {"alice": "EU", "bob": "US", "erin": "US"}


def sql_questions(db: Path, rng: random.Random) -> list[dict[str, Any]]:
    """SQL questions from each template, each with its gold query; only those whose answer,
    as the principal sees it (its row filter applied), is not empty."""
    con = sqlite3.connect(db)
    out = []
    try:
        for tid, text, gold, kind in _SQL_TEMPLATES:
            made = 0
            for _ in range(60):
                if made >= 3:
                    break
                fill, principal = _sql_fill(kind, rng)
                sql = gold.format(**fill)
                region = _REGION_ROWS.get(principal)
                # the gold answer as the principal sees it: its row filter applied
                scoped = sql
                if region and ("adverse_events" in sql or "sales" in sql or "patients" in sql):
                    for table in ("adverse_events", "sales", "patients"):
                        scoped = scoped.replace(
                            f"FROM {table} ",
                            f"FROM (SELECT * FROM {table} WHERE region = '{region}') ",
                        )
                rows = con.execute(scoped).fetchall()
                if not rows or rows[0][-1] in (None, 0):
                    continue
                question = text.format(**fill)
                for country in ("United States", "United Kingdom", "Netherlands"):
                    question = question.replace(f"in {country}", f"in the {country}")
                if any(q["question"] == question for q in out):
                    continue
                made += 1
                out.append(
                    {
                        "template": tid,
                        "question": question,
                        "route": "sql",
                        "failure_mode": "structured",
                        "principal": principal,
                        "sql": sql,
                    }
                )
    finally:
        con.close()
    return out
