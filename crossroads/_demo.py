"""``crossroads demo``: governed SQL end to end, offline and deterministic.

Writes a small seeded pharma database (SQLite), a policy file and an audit log into a
directory, runs statements as four principals through the audited runner, shows what
governance changed (row filters, masks, denials), then verifies the audit chain.
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
from pathlib import Path

from crossroads.audit import AuditLog, iter_tree
from crossroads.errors import PolicyViolation

__all__ = ["DEMO_POLICY", "build_demo_database", "run_demo"]

DEMO_POLICY = """\
version: 1
principals:
  alice: {groups: [eu_medical_info], attributes: {region: EU}}
  bob:   {groups: [us_sales], attributes: {region: US}}
  carol: {groups: [pv_officer, global], attributes: {region: EU}}
  dave:  {groups: [auditor]}
grants:
  - {to: "group:eu_medical_info", privilege: SELECT, on: "table:products"}
  - {to: "group:eu_medical_info", privilege: SELECT, on: "table:adverse_events"}
  - {to: "group:eu_medical_info", privilege: SELECT, on: "column:patients.id"}
  - {to: "group:eu_medical_info", privilege: SELECT, on: "column:patients.region"}
  - {to: "group:eu_medical_info", privilege: SELECT, on: "column:patients.birth_year"}
  - {to: "group:eu_medical_info", privilege: SELECT, on: "column:patients.ssn"}
  - {to: "group:us_sales", privilege: SELECT, on: "table:sales"}
  - {to: "group:us_sales", privilege: SELECT, on: "table:products"}
  - {to: "group:pv_officer", privilege: SELECT, on: "table:*"}
  - {to: "group:auditor", privilege: SELECT, on: "table:products"}
row_filters:
  - {on: "table:sales", where: "region = :region", except: ["group:global"]}
  - {on: "table:adverse_events", where: "region = :region", except: ["group:global"]}
  - {on: "table:patients", where: "region = :region", except: ["group:global"]}
column_masks:
  - {on: "column:patients.ssn", mask: "'***-**-' || SUBSTR(ssn, -4)", except: ["group:pv_officer"]}
"""

_PRODUCTS = [
    ("Cardiozen", "C09AA"),
    ("Neurovia", "N06AB"),
    ("Pulmorex", "R03AC"),
    ("Glucatrol", "A10BA"),
    ("Hepalin", "B01AB"),
]
_REGIONS = {"EU": ["DE", "FR", "IT", "ES"], "US": ["US"], "APAC": ["JP", "AU"]}


def build_demo_database(path: Path, *, seed: int = 7) -> None:
    """Write the demo database: products, sales, patients, adverse events (seeded)."""
    rng = random.Random(seed)
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.executescript(
            """
            CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, atc_code TEXT);
            CREATE TABLE sales (
                id INTEGER PRIMARY KEY, product_id INTEGER REFERENCES products(id),
                region TEXT, country TEXT, month TEXT, units INTEGER, revenue REAL);
            CREATE TABLE patients (
                id INTEGER PRIMARY KEY, name TEXT, ssn TEXT, region TEXT, birth_year INTEGER);
            CREATE TABLE adverse_events (
                id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patients(id),
                product_id INTEGER REFERENCES products(id), region TEXT, reported_on TEXT,
                severity TEXT);
            """
        )
        con.executemany(
            "INSERT INTO products VALUES (?, ?, ?)",
            [(i + 1, n, a) for i, (n, a) in enumerate(_PRODUCTS)],
        )
        sales = []
        for i in range(1, 2001):
            region = rng.choice(list(_REGIONS))
            units = rng.randint(10, 500)
            sales.append(
                (
                    i,
                    rng.randint(1, len(_PRODUCTS)),
                    region,
                    rng.choice(_REGIONS[region]),
                    f"2024-{rng.randint(1, 12):02d}",
                    units,
                    round(units * rng.uniform(8.0, 40.0), 2),
                )
            )
        con.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?, ?)", sales)
        first = ["Anna", "Ben", "Chloe", "David", "Elif", "Farid", "Greta", "Hugo", "Ines"]
        last = ["Schmidt", "Martin", "Rossi", "Garcia", "Smith", "Tanaka", "Brown", "Weber"]
        patients = [
            (
                i,
                f"{rng.choice(first)} {rng.choice(last)}",
                f"{rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
                rng.choice(list(_REGIONS)),
                rng.randint(1940, 2005),
            )
            for i in range(1, 501)
        ]
        con.executemany("INSERT INTO patients VALUES (?, ?, ?, ?, ?)", patients)
        events = []
        for i in range(1, 801):
            patient = rng.choice(patients)
            events.append(
                (
                    i,
                    patient[0],
                    rng.randint(1, len(_PRODUCTS)),
                    patient[3],
                    f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    rng.choice(["mild", "moderate", "severe"]),
                )
            )
        con.executemany("INSERT INTO adverse_events VALUES (?, ?, ?, ?, ?, ?)", events)
        con.commit()
    finally:
        con.close()


_SCRIPT: list[tuple[str, str, str]] = [
    ("alice", "EU medical information: adverse events by severity (rows filtered to EU)",
     "SELECT severity, COUNT(*) AS reports FROM adverse_events GROUP BY severity "
     "ORDER BY reports DESC"),
    ("alice", "patient identifiers are masked for her",
     "SELECT id, ssn, region FROM patients ORDER BY id LIMIT 3"),
    ("alice", "a predicate sees the mask too, so it cannot probe the real value",
     "SELECT COUNT(*) AS matches FROM patients WHERE ssn LIKE '1%'"),
    ("alice", "a column she holds no grant on",
     "SELECT name FROM patients LIMIT 3"),
    ("carol", "the pharmacovigilance officer sees every region, unmasked",
     "SELECT id, ssn, region FROM patients ORDER BY id LIMIT 3"),
    ("bob", "US sales: revenue by product (rows filtered to US)",
     "SELECT p.name, ROUND(SUM(s.revenue), 2) AS revenue FROM sales s "
     "JOIN products p ON p.id = s.product_id GROUP BY p.name ORDER BY revenue DESC"),
    ("bob", "no grant on patients: denied",
     "SELECT COUNT(*) FROM patients"),
    ("dave", "writes never run, whoever asks",
     "DROP TABLE products"),
]  # fmt: skip


def run_demo(directory: str | None = None) -> int:
    """Run the demo and print what happened; returns the process exit code."""
    from crossroads.connectors import SQLDatabase
    from crossroads.policy import Catalog
    from crossroads.tools.sql import GovernedSQL

    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="crossroads-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    db_path, policy_path, audit_path = (
        root / "pharma.sqlite",
        root / "policy.yaml",
        root / "audit.jsonl",
    )
    build_demo_database(db_path)
    policy_path.write_text(DEMO_POLICY, encoding="utf-8")
    audit_path.unlink(missing_ok=True)

    catalog = Catalog.from_yaml(policy_path)
    audit = AuditLog(audit_path)
    print(f"crossroads demo — files in {root}\n")
    last_trace = ""
    with SQLDatabase(f"sqlite:///{db_path}") as db:
        sql = GovernedSQL(db, catalog, audit=audit, max_rows=100)
        for who, story, statement in _SCRIPT:
            principal = catalog.principal(who)
            print(f"── {who} ({', '.join(principal.groups)}): {story}")
            print(f"   asked: {statement}")
            try:
                result = sql.run(statement, principal)
            except PolicyViolation as exc:
                print(f"   DENIED [{exc.rule}]: {exc.reason.split('] ', 1)[-1]}\n")
                continue
            governed = result.governed
            print(f"   ran:   {result.sql}")
            for table, predicates in governed.row_filters.items():
                print(f"   row filter on {table}: {' AND '.join(predicates)}")
            for table, masks in governed.masks.items():
                for column, mask in masks.items():
                    print(f"   masked {table}.{column} as {mask}")
            for row in result.rows[:5]:
                print(f"   → {row}")
            print()
            last_trace = audit.events()[-1].trace_id

    events = audit.events()
    print(f"audit log {audit_path}: {len(events)} events")
    if last_trace:
        print(f"the last allowed call (trace {last_trace[:12]}…):")
        for depth, span in iter_tree(audit.events(trace_id=last_trace)):
            for event in span:
                print("  " * (depth + 1) + event.summary())
    report = audit.verify()
    audit.close()
    print(f"\n$ crossroads audit verify {audit_path}\n{report.describe()}")
    print(
        f"\nTry: crossroads sql --policy {policy_path} --db sqlite:///{db_path} --as alice "
        '"SELECT region, COUNT(*) FROM patients GROUP BY region"'
    )
    return 0 if report.ok else 1
