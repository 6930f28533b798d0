"""The SQLite database of the pharma domain (``pharma.sqlite``)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from ._company import MANUFACTURERS, MARKET_SIZE, MARKETS, PRODUCTS

# the months of sales data
MONTHS = [f"{y}-{m:02d}" for y in (2023, 2024, 2025) for m in range(1, 13)]


_SCHEMA = """
CREATE TABLE manufacturers (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT, founded_year INTEGER,
    kind TEXT);
CREATE TABLE products (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, generic_name TEXT, atc_code TEXT,
    therapeutic_area TEXT, manufacturer_id INTEGER REFERENCES manufacturers(id),
    launch_year INTEGER);
CREATE TABLE markets (
    id INTEGER PRIMARY KEY, country TEXT NOT NULL, country_code TEXT, region TEXT);
CREATE TABLE sales (
    id INTEGER PRIMARY KEY, product_id INTEGER REFERENCES products(id),
    market_id INTEGER REFERENCES markets(id), region TEXT, country TEXT, year INTEGER,
    month TEXT, units INTEGER, revenue REAL);
CREATE TABLE clinical_trials (
    id INTEGER PRIMARY KEY, trial_code TEXT, product_id INTEGER REFERENCES products(id),
    phase INTEGER, status TEXT, indication TEXT, region TEXT, start_year INTEGER,
    enrolment INTEGER);
CREATE TABLE patients (
    id INTEGER PRIMARY KEY, name TEXT, ssn TEXT, sex TEXT, birth_year INTEGER, region TEXT,
    country TEXT);
CREATE TABLE adverse_events (
    id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patients(id),
    product_id INTEGER REFERENCES products(id), region TEXT, country TEXT, reported_on DATE,
    reaction TEXT, severity TEXT, seriousness TEXT, outcome TEXT);
"""

_FIRST = [
    "Anna",
    "Ben",
    "Chloe",
    "David",
    "Elif",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kaja",
    "Luca",
    "Marta",
    "Nils",
    "Olga",
    "Pierre",
    "Rosa",
    "Sven",
    "Tomas",
    "Ursula",
    "Vera",
    "Wei",
    "Yuki",
    "Zofia",
    "Aiko",
    "Liam",
    "Emma",
    "Noah",
    "Mia",
    "Jin",
]
_LAST = [
    "Schmidt",
    "Martin",
    "Rossi",
    "Garcia",
    "Smith",
    "Tanaka",
    "Brown",
    "Weber",
    "Novak",
    "Jansen",
    "Dubois",
    "Moreau",
    "Kowalski",
    "Lindqvist",
    "Peeters",
    "Huber",
    "Nielsen",
    "Johnson",
    "Williams",
    "Sato",
    "Kim",
    "Lee",
    "Wilson",
    "Taylor",
    "Fernandez",
]
_REACTIONS = {
    "cardiovascular": ["bleeding", "bruising", "dizziness", "bradycardia", "headache", "anaemia"],
    "neuroscience": ["nausea", "insomnia", "dizziness", "headache", "somnolence", "dry mouth"],
    "respiratory": ["tremor", "palpitations", "headache", "throat irritation", "cough"],
    "metabolic": ["hypoglycaemia", "nasopharyngitis", "headache", "pancreatitis", "arthralgia"],
    "oncology": ["fatigue", "rash", "nausea", "pyrexia", "arthralgia", "neutropenia"],
    "immunology": ["nasopharyngitis", "herpes zoster", "headache", "diarrhoea", "neutropenia"],
    "gastroenterology": ["diarrhoea", "headache", "abdominal pain", "nausea", "flatulence"],
}  # fmt: skip
_TRIAL_STATUS = ["completed", "completed", "active", "recruiting", "terminated", "planned"]


def write_database(path: Path, rng: random.Random) -> dict[str, int]:
    """Write the database to ``path`` (schema, then seeded rows); the row count of each table."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        con.executescript(_SCHEMA)
        makers = {m[0]: i for i, m in enumerate(MANUFACTURERS, 1)}
        con.executemany(
            "INSERT INTO manufacturers VALUES (?, ?, ?, ?, ?)",
            [(i, *m) for i, m in enumerate(MANUFACTURERS, 1)],
        )
        con.executemany(
            "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (i, p["name"], p["generic"], p["atc"], p["area"], makers[p["maker"]], p["launch"])
                for i, p in enumerate(PRODUCTS, 1)
            ],
        )
        con.executemany(
            "INSERT INTO markets VALUES (?, ?, ?, ?)",
            [(i, c, code, region) for i, (c, code, region, _) in enumerate(MARKETS, 1)],
        )
        sales = []
        for pid, p in enumerate(PRODUCTS, 1):
            base = rng.uniform(40.0, 160.0)  # list price per pack in Germany, EUR
            share = rng.uniform(0.5, 1.6)
            for mid, (_, code, region, price_index) in enumerate(MARKETS, 1):
                if rng.random() < 0.12 and p["name"] not in ("Cardiozen", "Neurovia"):
                    continue  # not launched in this market
                size = MARKET_SIZE.get(code, 0.6) * share
                trend = rng.uniform(-0.01, 0.025)
                for k, month in enumerate(MONTHS):
                    year = int(month[:4])
                    if year < p["launch"] or (year == p["launch"] and int(month[5:]) < 6):
                        continue
                    season = 1.0 + 0.08 * ((k % 12) in (0, 1, 10, 11))
                    units = int(1800 * size * (1 + trend) ** k * season * rng.uniform(0.85, 1.15))
                    revenue = round(units * base * price_index * rng.uniform(0.97, 1.03), 2)
                    country = MARKETS[mid - 1][0]
                    sales.append((pid, mid, region, country, year, month, units, revenue))
        con.executemany(
            "INSERT INTO sales (product_id, market_id, region, country, year, month, units, "
            "revenue) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            sales,
        )
        trials = []
        for pid, p in enumerate(PRODUCTS, 1):
            for n in range(rng.randint(8, 14)):
                phase = rng.choice([1, 2, 2, 3, 3, 3, 4])
                start = rng.randint(max(2005, p["launch"] - 8), 2025)
                status = "completed" if start < 2019 else rng.choice(_TRIAL_STATUS)
                indication = rng.choice(p["indications"])
                region = rng.choice(["EU", "US", "APAC", "global", "global"])
                size = {1: (20, 80), 2: (80, 400), 3: (300, 3000), 4: (500, 6000)}[phase]
                code = f"{p['name'][:3].upper()}-{phase}{n + 1:02d}"
                trials.append(
                    (code, pid, phase, status, indication, region, start, rng.randint(*size))
                )
        con.executemany(
            "INSERT INTO clinical_trials (trial_code, product_id, phase, status, indication, "
            "region, start_year, enrolment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            trials,
        )
        weights = [6 if r == "EU" else 8 if r == "US" else 3 for _, _, r, _ in MARKETS]
        patients = []
        for i in range(1, 2601):
            country, _, region, _ = rng.choices(MARKETS, weights=weights)[0]
            ssn = f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
            patients.append(
                (
                    i,
                    f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                    ssn,
                    rng.choice(["female", "male"]),
                    rng.randint(1932, 2006),
                    region,
                    country,
                )
            )
        con.executemany("INSERT INTO patients VALUES (?, ?, ?, ?, ?, ?, ?)", patients)
        events = []
        exposure = [3 if p["name"] in ("Cardiozen", "Neurovia", "Lipidex") else 1 for p in PRODUCTS]
        for i in range(1, 3401):
            patient = rng.choice(patients)
            pid = rng.choices(range(1, len(PRODUCTS) + 1), weights=exposure)[0]
            p = PRODUCTS[pid - 1]
            year = rng.choice([2023, 2024, 2024, 2025, 2025])
            year = max(year, p["launch"])
            day = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            severity = rng.choices(["mild", "moderate", "severe"], weights=[6, 3, 1])[0]
            serious = severity == "severe" or rng.random() < 0.08
            outcome = rng.choices(
                ["recovered", "recovering", "ongoing", "recovered with sequelae", "fatal"],
                weights=[50, 20, 15, 5, 1 if serious else 0],
            )[0]
            events.append(
                (
                    i,
                    patient[0],
                    pid,
                    patient[5],
                    patient[6],
                    day,
                    rng.choice(_REACTIONS[p["area"]]),
                    severity,
                    "serious" if serious else "non-serious",
                    outcome,
                )
            )
        con.executemany("INSERT INTO adverse_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", events)
        con.commit()
        counts = {
            t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in (
                "manufacturers",
                "products",
                "markets",
                "sales",
                "clinical_trials",
                "patients",
                "adverse_events",
            )
        }
        con.execute("PRAGMA foreign_key_check")
    finally:
        con.close()
    return counts
