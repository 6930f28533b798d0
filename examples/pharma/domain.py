"""The pharma example domain: a medical-information department's data, seeded and deterministic.

``build(directory)`` writes four files, byte-identical on every run:

- ``pharma.sqlite`` — manufacturers, products, markets, monthly sales 2023–2025, clinical
  trials, patients and adverse-event reports (foreign keys declared);
- ``graph.json`` — a pharmacology knowledge graph: the company's products and ~180 other
  drugs, their ingredients, the enzymes that metabolise them (and the drugs that inhibit
  or induce those enzymes), interactions, indications, contraindications, manufacturers
  and a few investigational compounds;
- ``documents.jsonl`` — product labels (one document per product, region and section),
  internal SOPs and medical-information response letters, with metadata for governance;
- ``questions.jsonl`` — labelled questions for the four routes (and compound ones), split
  into ``fit`` and ``heldout``.

``load_graph(directory)`` and ``load_documents(directory)`` read them back as crossroads
connectors; ``GRAPH_SYNONYMS`` and ``SQL_SYNONYMS`` are the phrasings the deterministic
tools need for this schema. Run ``python domain.py DIR`` to build into ``DIR``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crossroads.connectors import DocumentIndex, NetworkXGraph

__all__ = [
    "BUDGET_TOKENS",
    "GRAPH_NAME",
    "GRAPH_SYNONYMS",
    "SEED",
    "SQL_SYNONYMS",
    "build",
    "load_documents",
    "load_graph",
    "read_questions",
]

SEED = 20240611
GRAPH_NAME = "pharma"
"""The graph's name in the policy (``graph:pharma``)."""
BUDGET_TOKENS = 100_000
"""The long-context budget the domain is tuned for (all SOPs come to about 6,200 tokens)."""
MONTHS = [f"{y}-{m:02d}" for y in (2023, 2024, 2025) for m in range(1, 13)]

GRAPH_SYNONYMS: dict[str, list[str]] = {
    "has_ingredient": ["contain", "contains", "containing", "ingredient", "ingredients"],
    "metabolised_by": ["metabolise", "metabolises", "metabolised", "metabolized", "metabolism"],
    "inhibits": ["inhibit", "inhibitor", "inhibitors", "inhibited", "blocks"],
    "induces": ["induce", "inducer", "inducers", "induced"],
    "interacts_with": ["interact", "interacts", "interaction", "interactions", "combined with"],
    "indicated_for": ["indicated", "indication", "indications", "treat", "treats", "used for"],
    "contraindicated_in": ["contraindicated", "contraindication", "contraindications", "avoid"],
    "manufactured_by": ["manufacture", "manufactures", "manufacturer", "makes", "made", "produce"],
}
"""Relation name → phrasings that cue it (``GraphQA(synonyms=GRAPH_SYNONYMS)``)."""

SQL_SYNONYMS: dict[str, str] = {
    "trial": "clinical_trials",
    "study": "clinical_trials",
    "drug": "products",
    "medicine": "products",
    "report": "adverse_events",
    "case": "adverse_events",
    "adverse reaction": "adverse_events",
    "enrolled": "clinical_trials.enrolment",
    "enrollment": "clinical_trials.enrolment",
    "sale": "sales.revenue",
    "launched": "products.launch_year",
}
"""Phrase → ``table`` or ``table.column`` (``GovernedSQL(synonyms=SQL_SYNONYMS)``)."""


# --- the company's products -------------------------------------------------------------------

# name, generic, ATC, therapeutic area, manufacturer, launch year, enzymes, inhibits, induces,
# indications, contraindications, strength, EU dose, US dose, renal rule, shelf life (months)
_PRODUCTS: list[dict[str, Any]] = [
    {
        "name": "Cardiozen",
        "generic": "cardoxaban",
        "atc": "B01AF",
        "area": "cardiovascular",
        "maker": "Helvion Pharma",
        "launch": 2014,
        "enzymes": ["CYP3A4", "CYP2J2"],
        "inhibits": [],
        "induces": [],
        "indications": ["atrial fibrillation", "deep vein thrombosis"],
        "contra": ["active bleeding", "severe hepatic impairment"],
        "strength": "15 mg and 20 mg",
        "eu_dose": "20 mg once daily with food",
        "us_dose": "20 mg once daily with the evening meal",
        "renal": (15, 49, "15 mg once daily"),
        "shelf": 36,
    },
    {
        "name": "Neurovia",
        "generic": "neuroxetine",
        "atc": "N06AX",
        "area": "neuroscience",
        "maker": "Helvion Pharma",
        "launch": 2016,
        "enzymes": ["CYP2D6", "CYP1A2"],
        "inhibits": ["CYP2D6"],
        "induces": [],
        "indications": ["major depressive disorder", "generalised anxiety disorder"],
        "contra": ["angle-closure glaucoma", "uncontrolled hypertension"],
        "strength": "30 mg and 60 mg",
        "eu_dose": "60 mg once daily",
        "us_dose": "30 mg once daily for one week, then 60 mg once daily",
        "renal": (30, 0, "avoid use"),
        "shelf": 36,
    },
    {
        "name": "Pulmorex",
        "generic": "pulmaterol",
        "atc": "R03AC",
        "area": "respiratory",
        "maker": "Norrland Biologics",
        "launch": 2012,
        "enzymes": ["CYP3A4"],
        "inhibits": [],
        "induces": [],
        "indications": ["asthma", "chronic obstructive pulmonary disease"],
        "contra": ["hypersensitivity to milk proteins"],
        "strength": "50 micrograms per inhalation",
        "eu_dose": "one inhalation (50 micrograms) twice daily",
        "us_dose": "one inhalation (50 micrograms) twice daily, about 12 hours apart",
        "renal": (0, 0, "no adjustment"),
        "shelf": 24,
    },
    {
        "name": "Glucatrol",
        "generic": "glucagliptin",
        "atc": "A10BH",
        "area": "metabolic",
        "maker": "Castellan Therapeutics",
        "launch": 2011,
        "enzymes": ["CYP3A4"],
        "inhibits": [],
        "induces": [],
        "indications": ["type 2 diabetes"],
        "contra": ["diabetic ketoacidosis", "type 1 diabetes"],
        "strength": "25 mg, 50 mg and 100 mg",
        "eu_dose": "100 mg once daily",
        "us_dose": "100 mg once daily",
        "renal": (30, 44, "50 mg once daily; 25 mg once daily below 30 mL/min"),
        "shelf": 36,
    },
    {
        "name": "Hepalin",
        "generic": "levoparin",
        "atc": "B01AB",
        "area": "cardiovascular",
        "maker": "Castellan Therapeutics",
        "launch": 2009,
        "enzymes": [],
        "inhibits": [],
        "induces": [],
        "indications": ["deep vein thrombosis", "pulmonary embolism"],
        "contra": ["active bleeding", "heparin-induced thrombocytopenia"],
        "strength": "4,000 IU, 6,000 IU and 10,000 IU prefilled syringes",
        "eu_dose": "100 IU/kg subcutaneously twice daily",
        "us_dose": "1 mg/kg equivalent (100 IU/kg) subcutaneously every 12 hours",
        "renal": (30, 0, "100 IU/kg once daily"),
        "shelf": 24,
    },
    {
        "name": "Oncoreva",
        "generic": "oncorafenib",
        "atc": "L01EC",
        "area": "oncology",
        "maker": "Meridian Life Sciences",
        "launch": 2019,
        "enzymes": ["CYP3A4", "CYP2C19"],
        "inhibits": [],
        "induces": ["CYP3A4"],
        "indications": ["metastatic melanoma"],
        "contra": ["pregnancy"],
        "strength": "50 mg and 75 mg capsules",
        "eu_dose": "450 mg once daily",
        "us_dose": "450 mg once daily",
        "renal": (0, 0, "no adjustment"),
        "shelf": 24,
    },
    {
        "name": "Immunora",
        "generic": "immunacitinib",
        "atc": "L04AF",
        "area": "immunology",
        "maker": "Meridian Life Sciences",
        "launch": 2020,
        "enzymes": ["CYP3A4", "CYP2C19"],
        "inhibits": [],
        "induces": [],
        "indications": ["rheumatoid arthritis", "psoriatic arthritis"],
        "contra": ["active tuberculosis", "pregnancy"],
        "strength": "5 mg and 10 mg",
        "eu_dose": "5 mg twice daily",
        "us_dose": "5 mg twice daily or 11 mg extended-release daily",
        "renal": (30, 0, "5 mg once daily"),
        "shelf": 30,
    },
    {
        "name": "Lipidex",
        "generic": "lipavastatin",
        "atc": "C10AA",
        "area": "cardiovascular",
        "maker": "Helvion Pharma",
        "launch": 2010,
        "enzymes": ["CYP3A4"],
        "inhibits": [],
        "induces": [],
        "indications": ["hypercholesterolaemia"],
        "contra": ["active liver disease", "pregnancy"],
        "strength": "10 mg, 20 mg and 40 mg",
        "eu_dose": "10 mg to 20 mg once daily in the evening",
        "us_dose": "20 mg once daily in the evening",
        "renal": (30, 0, "start at 10 mg"),
        "shelf": 36,
    },
    {
        "name": "Migranol",
        "generic": "migratriptan",
        "atc": "N02CC",
        "area": "neuroscience",
        "maker": "Norrland Biologics",
        "launch": 2015,
        "enzymes": ["CYP3A4"],
        "inhibits": [],
        "induces": [],
        "indications": ["migraine"],
        "contra": ["coronary artery disease", "uncontrolled hypertension"],
        "strength": "20 mg and 40 mg",
        "eu_dose": "40 mg at the onset of headache",
        "us_dose": "20 mg or 40 mg at the onset of headache",
        "renal": (0, 0, "no adjustment"),
        "shelf": 36,
    },
    {
        "name": "Renavast",
        "generic": "renaxolol",
        "atc": "C07AB",
        "area": "cardiovascular",
        "maker": "Castellan Therapeutics",
        "launch": 2013,
        "enzymes": ["CYP2D6"],
        "inhibits": [],
        "induces": [],
        "indications": ["hypertension", "angina pectoris"],
        "contra": ["asthma", "second-degree AV block"],
        "strength": "2.5 mg, 5 mg and 10 mg",
        "eu_dose": "5 mg once daily",
        "us_dose": "5 mg once daily",
        "renal": (20, 0, "start at 2.5 mg"),
        "shelf": 48,
    },
    {
        "name": "Gastrolin",
        "generic": "gastroprazole",
        "atc": "A02BC",
        "area": "gastroenterology",
        "maker": "Norrland Biologics",
        "launch": 2017,
        "enzymes": ["CYP2C19", "CYP3A4"],
        "inhibits": ["CYP2C19"],
        "induces": [],
        "indications": ["gastro-oesophageal reflux disease", "peptic ulcer"],
        "contra": [],
        "strength": "20 mg and 40 mg gastro-resistant tablets",
        "eu_dose": "20 mg once daily before breakfast",
        "us_dose": "40 mg once daily before a meal",
        "renal": (0, 0, "no adjustment"),
        "shelf": 36,
    },
    {
        "name": "Epilexa",
        "generic": "epicosamide",
        "atc": "N03AX",
        "area": "neuroscience",
        "maker": "Meridian Life Sciences",
        "launch": 2023,
        "enzymes": ["CYP2C19"],
        "inhibits": [],
        "induces": ["CYP3A4"],
        "indications": ["epilepsy"],
        "contra": ["second-degree AV block"],
        "strength": "50 mg, 100 mg and 200 mg",
        "eu_dose": "50 mg twice daily, up to 200 mg twice daily",
        "us_dose": "100 mg twice daily, up to 200 mg twice daily",
        "renal": (30, 0, "maximum 300 mg per day"),
        "shelf": 36,
    },
]

_MANUFACTURERS: list[tuple[str, str, int, str]] = [
    # name, country, founded, kind
    ("Helvion Pharma", "Switzerland", 1968, "originator"),
    ("Norrland Biologics", "Sweden", 1987, "originator"),
    ("Castellan Therapeutics", "Spain", 1979, "originator"),
    ("Meridian Life Sciences", "United States", 1994, "originator"),
    ("Apexgen Generics", "India", 1991, "generic"),
    ("Veridia Pharma", "Germany", 1952, "generic"),
    ("Solvane Laboratories", "France", 1960, "generic"),
    ("Kestrel Pharmaceuticals", "United States", 1983, "generic"),
    ("Orinoco Health", "Brazil", 1999, "generic"),
    ("Takumi Seiyaku", "Japan", 1948, "generic"),
    ("Brightwater Medicines", "United Kingdom", 1975, "generic"),
    ("Lumen Biopharma", "Ireland", 2005, "generic"),
]

_MARKETS: list[tuple[str, str, str, float]] = [
    # country, code, region, price index
    ("Germany", "DE", "EU", 1.00),
    ("France", "FR", "EU", 0.86),
    ("Italy", "IT", "EU", 0.82),
    ("Spain", "ES", "EU", 0.78),
    ("Netherlands", "NL", "EU", 0.92),
    ("Belgium", "BE", "EU", 0.88),
    ("Sweden", "SE", "EU", 0.95),
    ("Poland", "PL", "EU", 0.61),
    ("Austria", "AT", "EU", 0.97),
    ("Denmark", "DK", "EU", 1.02),
    ("United States", "US", "US", 2.35),
    ("Japan", "JP", "APAC", 0.90),
    ("Australia", "AU", "APAC", 0.84),
    ("South Korea", "KR", "APAC", 0.72),
    ("Singapore", "SG", "APAC", 0.99),
]

_MARKET_SIZE = {"US": 9.0, "DE": 2.6, "FR": 2.1, "IT": 1.9, "ES": 1.5, "JP": 3.0, "AU": 0.8}


# --- the other drugs of the graph -------------------------------------------------------------

# class: (indications, contraindications), then "name:salt:metabolised by:inhibits:induces"
_ENZYMES = ["CYP1A2", "CYP2B6", "CYP2C8", "CYP2C9", "CYP2C19", "CYP2D6", "CYP2E1", "CYP2J2",
            "CYP3A4", "CYP3A5", "UGT1A1"]  # fmt: skip
_E = {e.removeprefix("CYP"): e for e in _ENZYMES} | {"UGT": "UGT1A1"}

_CLASSES: list[tuple[str, str, str, str]] = [
    ("statin", "hypercholesterolaemia", "active liver disease;pregnancy", """
     simvastatin::3A4::;atorvastatin:atorvastatin calcium:3A4::;rosuvastatin:rosuvastatin
     calcium:2C9::;pravastatin:pravastatin sodium:::;lovastatin::3A4::;fluvastatin:fluvastatin
     sodium:2C9::;pitavastatin:pitavastatin calcium:UGT::"""),
    ("anticoagulant", "atrial fibrillation;deep vein thrombosis", "active bleeding", """
     warfarin:warfarin sodium:2C9,3A4,1A2::;apixaban::3A4::;rivaroxaban::3A4,2J2::;
     dabigatran:dabigatran etexilate mesilate:::;edoxaban:edoxaban tosilate:::;
     acenocoumarol::2C9::"""),
    ("antiplatelet", "acute coronary syndrome", "active bleeding", """
     clopidogrel:clopidogrel bisulfate:2C19,3A4:2C8:;prasugrel:prasugrel hydrochloride:3A4,2B6::;
     ticagrelor::3A4::;aspirin:acetylsalicylic acid:::"""),
    ("azole antifungal", "invasive aspergillosis;oropharyngeal candidiasis", "QT prolongation", """
     ketoconazole::3A4:3A4,2C9:;itraconazole::3A4:3A4:;fluconazole:::2C9,2C19,3A4:;
     voriconazole::2C19,2C9,3A4:2C19,2C9,3A4:;posaconazole::UGT:3A4:"""),
    ("macrolide", "community-acquired pneumonia", "QT prolongation", """
     clarithromycin::3A4:3A4:;erythromycin:erythromycin ethylsuccinate:3A4:3A4:;
     azithromycin:azithromycin dihydrate:::"""),
    ("rifamycin", "tuberculosis", "severe hepatic impairment", """
     rifampicin::::3A4,2C9,2C19,2B6,2C8,1A2,UGT;rifabutin::3A4::3A4;rifapentine::::3A4,2C9"""),
    ("anticonvulsant", "epilepsy", "second-degree AV block", """
     carbamazepine::3A4::3A4,2C9,1A2,2B6;phenytoin:phenytoin sodium:2C9,2C19::3A4,2C9,2C19;
     phenobarbital::2C19::3A4,2C9;valproic acid:sodium valproate:UGT,2C9:2C9,UGT:;
     lamotrigine::UGT::;levetiracetam:::;topiramate:::2C19:;oxcarbazepine:::2C19:3A4"""),
    ("antidepressant", "major depressive disorder", "", """
     fluoxetine:fluoxetine hydrochloride:2D6,2C9:2D6,2C19:;paroxetine:paroxetine
     hydrochloride:2D6:2D6:;sertraline:sertraline hydrochloride:2B6,2C19:2D6:;citalopram:citalopram
     hydrobromide:2C19,3A4::;escitalopram:escitalopram oxalate:2C19,3A4::;fluvoxamine:fluvoxamine
     maleate:2D6,1A2:1A2,2C19,3A4:;venlafaxine:venlafaxine hydrochloride:2D6,3A4::;
     duloxetine:duloxetine hydrochloride:1A2,2D6:2D6:;bupropion:bupropion hydrochloride:2B6:2D6:;
     mirtazapine::2D6,1A2,3A4::;trazodone:trazodone hydrochloride:3A4::"""),
    ("tricyclic antidepressant", "major depressive disorder;neuropathic pain",
     "recent myocardial infarction", """
     amitriptyline:amitriptyline hydrochloride:2D6,2C19,1A2,3A4::;nortriptyline:nortriptyline
     hydrochloride:2D6::;imipramine:imipramine hydrochloride:2D6,2C19,1A2::;
     clomipramine:clomipramine hydrochloride:2D6,1A2,2C19::"""),
    ("antipsychotic", "schizophrenia;bipolar disorder", "dementia-related psychosis", """
     haloperidol::2D6,3A4:2D6:;risperidone::2D6,3A4::;aripiprazole::2D6,3A4::;
     quetiapine:quetiapine fumarate:3A4::;olanzapine::1A2::;clozapine::1A2,3A4,2D6::;
     pimozide::3A4,1A2::;lurasidone:lurasidone hydrochloride:3A4::"""),
    ("benzodiazepine", "generalised anxiety disorder;insomnia",
     "myasthenia gravis;sleep apnoea syndrome", """
     midazolam:midazolam hydrochloride:3A4::;triazolam::3A4::;alprazolam::3A4::;
     diazepam::2C19,3A4::;zolpidem:zolpidem tartrate:3A4::"""),
    ("opioid analgesic", "severe pain", "severe respiratory depression", """
     codeine:codeine phosphate:2D6,3A4::;tramadol:tramadol hydrochloride:2D6,3A4::;
     oxycodone:oxycodone hydrochloride:3A4,2D6::;fentanyl:fentanyl citrate:3A4::;
     methadone:methadone hydrochloride:3A4,2B6::;morphine:morphine sulfate:UGT::"""),
    ("calcium channel blocker", "hypertension;angina pectoris", "cardiogenic shock", """
     amlodipine:amlodipine besilate:3A4::;nifedipine::3A4::;felodipine::3A4::;
     diltiazem:diltiazem hydrochloride:3A4:3A4:;verapamil:verapamil hydrochloride:3A4,1A2:3A4:;
     lercanidipine:lercanidipine hydrochloride:3A4::"""),
    ("beta blocker", "hypertension;angina pectoris;heart failure",
     "asthma;second-degree AV block", """
     metoprolol:metoprolol succinate:2D6::;carvedilol::2D6,2C9::;propranolol:propranolol
     hydrochloride:2D6,1A2::;bisoprolol:bisoprolol fumarate:3A4::;nebivolol:nebivolol
     hydrochloride:2D6::;atenolol:::"""),
    ("renin-angiotensin agent", "hypertension;heart failure", "pregnancy;hereditary angioedema", """
     lisinopril:lisinopril dihydrate:::;ramipril:::;enalapril:enalapril maleate:::;
     losartan:losartan potassium:2C9,3A4::;valsartan:::;irbesartan::2C9::;
     candesartan:candesartan cilexetil:::;sacubitril:sacubitril sodium:::"""),
    ("antiarrhythmic", "atrial fibrillation", "second-degree AV block;QT prolongation", """
     amiodarone:amiodarone hydrochloride:3A4,2C8:2C9,2D6,3A4,1A2:;dronedarone:dronedarone
     hydrochloride:3A4:3A4,2D6:;flecainide:flecainide acetate:2D6,1A2::;digoxin:::;
     quinidine:quinidine sulfate:3A4:2D6:"""),
    ("proton pump inhibitor", "gastro-oesophageal reflux disease;peptic ulcer", "", """
     omeprazole::2C19,3A4:2C19:;esomeprazole:esomeprazole magnesium:2C19,3A4:2C19:;
     lansoprazole::2C19,3A4::;pantoprazole:pantoprazole sodium sesquihydrate:2C19::;
     rabeprazole:rabeprazole sodium:::;cimetidine:::3A4,2D6,1A2:;famotidine:::"""),
    ("antidiabetic", "type 2 diabetes", "diabetic ketoacidosis", """
     metformin:metformin hydrochloride:::;glipizide::2C9::;glimepiride::2C9::;gliclazide::2C9::;
     sitagliptin:sitagliptin phosphate:::;saxagliptin::3A4,3A5::;pioglitazone:pioglitazone
     hydrochloride:2C8,3A4::;repaglinide::2C8,3A4::;empagliflozin::UGT::;
     dapagliflozin:dapagliflozin propanediol:UGT::"""),
    ("immunosuppressant", "organ transplant rejection", "active tuberculosis", """
     ciclosporin::3A4,3A5:3A4:;tacrolimus::3A4,3A5::;sirolimus::3A4::;everolimus::3A4::;
     mycophenolate mofetil::UGT::"""),
    ("antiretroviral", "HIV infection", "", """
     ritonavir::3A4:3A4,2D6:;cobicistat::3A4:3A4,2D6:;efavirenz::2B6::3A4,2B6;
     nevirapine::3A4,2B6::3A4;darunavir:darunavir ethanolate:3A4:3A4:;atazanavir:atazanavir
     sulfate:3A4:3A4,UGT:;dolutegravir:dolutegravir sodium:UGT::;raltegravir:raltegravir
     potassium:UGT::"""),
    ("kinase inhibitor", "chronic myeloid leukaemia;non-small cell lung cancer", "pregnancy", """
     imatinib:imatinib mesilate:3A4:3A4,2D6:;erlotinib:erlotinib hydrochloride:3A4,1A2::;
     gefitinib::3A4,2D6::;ibrutinib::3A4::;lapatinib:lapatinib ditosylate:3A4:2C8:;
     nilotinib:nilotinib hydrochloride:3A4:3A4,UGT:;dasatinib::3A4::;osimertinib:osimertinib
     mesilate:3A4::"""),
    ("antineoplastic", "breast cancer;colorectal cancer", "pregnancy", """
     tamoxifen:tamoxifen citrate:2D6,3A4::;irinotecan:irinotecan hydrochloride:UGT,3A4::;
     docetaxel::3A4::;paclitaxel::2C8,3A4::;anastrozole:::;letrozole::2A6,3A4::"""),
    ("antihistamine", "allergic rhinitis;chronic urticaria", "", """
     loratadine::3A4,2D6::;desloratadine::2C8::;fexofenadine:fexofenadine hydrochloride:::;
     cetirizine:cetirizine dihydrochloride:::;hydroxyzine:hydroxyzine hydrochloride:3A4::"""),
    ("triptan", "migraine", "coronary artery disease;uncontrolled hypertension", """
     sumatriptan:sumatriptan succinate:::;eletriptan:eletriptan hydrobromide:3A4::;
     rizatriptan:rizatriptan benzoate:::;zolmitriptan::1A2::;almotriptan:almotriptan
     malate:3A4,2D6::"""),
    ("NSAID", "osteoarthritis;rheumatoid arthritis", "active peptic ulcer;severe heart failure", """
     ibuprofen::2C9::;diclofenac:diclofenac sodium:2C9::;celecoxib::2C9::;naproxen:naproxen
     sodium:2C9,1A2::;meloxicam::2C9,3A4::;etoricoxib::3A4::"""),
    ("respiratory agent", "asthma;chronic obstructive pulmonary disease", "", """
     theophylline::1A2,2E1::;salmeterol:salmeterol xinafoate:3A4::;fluticasone:fluticasone
     propionate:3A4::;budesonide::3A4::;montelukast:montelukast sodium:2C8,3A4::;
     roflumilast::3A4,1A2::;tiotropium:tiotropium bromide:2D6,3A4::"""),
    ("PDE5 inhibitor", "erectile dysfunction;pulmonary arterial hypertension",
     "severe hypotension", """
     sildenafil:sildenafil citrate:3A4::;tadalafil::3A4::;vardenafil:vardenafil
     hydrochloride:3A4::"""),
    ("antibacterial", "urinary tract infection;community-acquired pneumonia", "myasthenia gravis",
     """
     ciprofloxacin:ciprofloxacin hydrochloride::1A2:;levofloxacin:levofloxacin hemihydrate:::;
     moxifloxacin:moxifloxacin hydrochloride:::;metronidazole:::2C9:;
     sulfamethoxazole::2C9:2C9:;trimethoprim:::2C8:;linezolid:::;doxycycline:doxycycline
     hyclate:::;terbinafine:terbinafine hydrochloride::2D6:"""),
    ("antiparkinsonian", "Parkinson's disease;restless legs syndrome", "", """
     ropinirole:ropinirole hydrochloride:1A2::;rasagiline:rasagiline mesilate:1A2::;
     selegiline:selegiline hydrochloride:2B6::;pramipexole:pramipexole dihydrochloride:::"""),
    ("dementia agent", "Alzheimer's disease", "", """
     donepezil:donepezil hydrochloride:2D6,3A4::;galantamine:galantamine hydrobromide:2D6,3A4::;
     memantine:memantine hydrochloride:::"""),
    ("urological agent", "overactive bladder;benign prostatic hyperplasia", "", """
     tolterodine:tolterodine tartrate:2D6,3A4::;solifenacin:solifenacin succinate:3A4::;
     mirabegron::3A4,2D6:2D6:;tamsulosin:tamsulosin hydrochloride:3A4,2D6::;
     finasteride::3A4::"""),
    ("penicillin or cephalosporin", "urinary tract infection;cellulitis",
     "penicillin allergy", """
     amoxicillin:amoxicillin trihydrate:::;cefalexin:cefalexin monohydrate:::;
     clindamycin:clindamycin hydrochloride:3A4::;nitrofurantoin:::;flucloxacillin:flucloxacillin
     sodium:::"""),
    ("antiviral", "herpes zoster;influenza", "", """
     aciclovir:::;valaciclovir:valaciclovir hydrochloride:::;oseltamivir:oseltamivir phosphate:::;
     nirmatrelvir::3A4::"""),
    ("corticosteroid", "rheumatoid arthritis;asthma", "systemic fungal infection", """
     prednisolone:prednisolone sodium phosphate:3A4::;hydrocortisone:hydrocortisone
     acetate:3A4::;methylprednisolone:methylprednisolone sodium succinate:3A4::"""),
    ("diuretic", "hypertension;oedema", "anuria", """
     furosemide:::;hydrochlorothiazide:::;spironolactone:::;indapamide::3A4::;
     torasemide::2C9::"""),
    ("neuropathic pain agent", "neuropathic pain;epilepsy", "", """
     gabapentin:::;pregabalin:::;cannabidiol::3A4,2C19:2C19:;baclofen:::"""),
    ("antiemetic", "chemotherapy-induced nausea", "", """
     metoclopramide:metoclopramide hydrochloride:2D6::;aprepitant::3A4:3A4:;
     granisetron:granisetron hydrochloride:3A4::"""),
    ("antimalarial", "malaria;lupus erythematosus", "retinopathy", """
     hydroxychloroquine:hydroxychloroquine sulfate:2D6,3A4::;quinine:quinine sulfate:3A4:2D6:;
     mefloquine:mefloquine hydrochloride:3A4::"""),
    ("hormone", "menopausal symptoms;osteoporosis", "venous thromboembolism", """
     estradiol:estradiol hemihydrate:3A4,1A2::;progesterone::3A4,2C19::;raloxifene:raloxifene
     hydrochloride:UGT::;alendronic acid:alendronate sodium:::"""),
    ("miscellaneous", "", "", """
     colchicine::3A4::;ondansetron:ondansetron hydrochloride:3A4,2D6,1A2::;
     domperidone::3A4::;dextromethorphan:dextromethorphan hydrobromide:2D6::;
     atomoxetine:atomoxetine hydrochloride:2D6::;modafinil::3A4::3A4;tizanidine:tizanidine
     hydrochloride:1A2::;ivabradine:ivabradine hydrochloride:3A4::;ranolazine::3A4,2D6:3A4,2D6:;
     bosentan::2C9,3A4::3A4,2C9;tofacitinib:tofacitinib citrate:3A4,2C19::;methotrexate:::;
     levothyroxine:levothyroxine sodium:::;dexamethasone:dexamethasone sodium
     phosphate:3A4::3A4;St John's wort::::3A4,2C19;ethinylestradiol::3A4::;
     allopurinol:::;eplerenone::3A4::;apremilast::3A4::"""),
]  # fmt: skip

_MISC_INDICATIONS = {
    "colchicine": ["gout"],
    "ondansetron": ["chemotherapy-induced nausea"],
    "domperidone": ["nausea and vomiting"],
    "dextromethorphan": ["cough"],
    "atomoxetine": ["attention deficit hyperactivity disorder"],
    "modafinil": ["narcolepsy"],
    "tizanidine": ["spasticity"],
    "ivabradine": ["heart failure"],
    "ranolazine": ["angina pectoris"],
    "bosentan": ["pulmonary arterial hypertension"],
    "tofacitinib": ["rheumatoid arthritis"],
    "methotrexate": ["rheumatoid arthritis", "psoriasis"],
    "levothyroxine": ["hypothyroidism"],
    "dexamethasone": ["chemotherapy-induced nausea"],
    "St John's wort": ["mild depression"],
    "ethinylestradiol": ["contraception"],
    "allopurinol": ["gout"],
    "eplerenone": ["heart failure"],
    "apremilast": ["psoriatic arthritis", "psoriasis"],
}
_MISC_CONTRA = {
    "colchicine": ["severe renal impairment"], "domperidone": ["QT prolongation"],
    "modafinil": ["uncontrolled hypertension"], "ivabradine": ["cardiogenic shock"],
    "bosentan": ["pregnancy"], "methotrexate": ["pregnancy", "severe renal impairment"],
    "ethinylestradiol": ["venous thromboembolism"], "tizanidine": ["severe hepatic impairment"],
    "metformin": ["severe renal impairment"], "pimozide": ["QT prolongation"],
    "bupropion": ["epilepsy"], "valproic acid": ["pregnancy"], "warfarin": ["pregnancy"],
    "clarithromycin": ["severe hepatic impairment"], "ketoconazole": ["severe hepatic impairment"],
}  # fmt: skip

# pharmacodynamic interactions the enzyme rule does not find
_PD_INTERACTIONS = [
    ("warfarin", "aspirin"), ("warfarin", "ibuprofen"), ("warfarin", "naproxen"),
    ("warfarin", "diclofenac"), ("Cardiozen", "aspirin"), ("Cardiozen", "clopidogrel"),
    ("Cardiozen", "ibuprofen"), ("Hepalin", "aspirin"), ("Hepalin", "naproxen"),
    ("Neurovia", "tramadol"), ("Neurovia", "sumatriptan"), ("Neurovia", "linezolid"),
    ("Neurovia", "selegiline"), ("Migranol", "fluoxetine"), ("Migranol", "sertraline"),
    ("Migranol", "venlafaxine"), ("sertraline", "tramadol"), ("fluoxetine", "tramadol"),
    ("citalopram", "ondansetron"), ("Renavast", "verapamil"), ("Renavast", "diltiazem"),
    ("Glucatrol", "dexamethasone"), ("sildenafil", "amlodipine"), ("Lipidex", "colchicine"),
    ("Immunora", "methotrexate"), ("Oncoreva", "ondansetron"), ("Epilexa", "flecainide"),
]  # fmt: skip

# drugs whose exposure matters enough that an enzyme inhibitor or inducer is flagged
_SENSITIVE = {
    "warfarin", "simvastatin", "lovastatin", "atorvastatin", "midazolam", "triazolam",
    "tacrolimus", "ciclosporin", "sirolimus", "everolimus", "pimozide", "quinidine",
    "fentanyl", "oxycodone", "methadone", "colchicine", "ibrutinib", "theophylline",
    "tizanidine", "clozapine", "metoprolol", "codeine", "tamoxifen", "phenytoin",
    "clopidogrel", "apixaban", "rivaroxaban", "quetiapine", "lurasidone", "domperidone",
    "ticagrelor", "eletriptan", "sildenafil", "amiodarone", "irinotecan", "olanzapine",
    "saxagliptin", "dasatinib", "nilotinib", "budesonide", "salmeterol", "ranolazine",
}  # fmt: skip

_INVESTIGATIONAL = [
    # id, maker, enzymes, inhibits, target indication, interacts with
    ("HLV-2291", "Helvion Pharma", ["CYP3A4"], ["CYP2C9"], "atrial fibrillation", "warfarin"),
    ("HLV-3107", "Helvion Pharma", ["CYP2D6"], [], "treatment-resistant depression", "Neurovia"),
    ("NRB-118", "Norrland Biologics", ["CYP3A4"], [], "severe asthma", "ketoconazole"),
    ("CST-640", "Castellan Therapeutics", ["CYP2C8"], ["CYP3A4"], "type 2 diabetes", "Lipidex"),
    ("MLS-907", "Meridian Life Sciences", ["CYP3A4", "CYP2C19"], [], "metastatic melanoma",
     "clarithromycin"),
    ("MLS-415", "Meridian Life Sciences", ["UGT1A1"], [], "ulcerative colitis", "ritonavir"),
]  # fmt: skip

_EXCIPIENTS = [
    "lactose monohydrate", "microcrystalline cellulose", "magnesium stearate",
    "croscarmellose sodium", "povidone K30", "hypromellose", "titanium dioxide",
    "sodium starch glycolate", "colloidal anhydrous silica", "mannitol", "sucrose", "gelatin",
    "macrogol 4000", "talc", "red iron oxide", "soya lecithin", "aspartame",
    "sodium laurilsulfate", "polysorbate 80", "benzyl alcohol", "propylene glycol",
    "maize starch", "calcium hydrogen phosphate", "sorbitol", "yellow iron oxide",
    "carnauba wax", "crospovidone", "hydroxypropyl cellulose",
]  # fmt: skip


def _split(field: str) -> list[str]:
    return [x.strip() for x in field.split(";") if x.strip()]


def _drug_table() -> list[dict[str, Any]]:
    """Every non-company drug: name, salt, class, enzymes, inhibits, induces, uses, contras."""
    drugs = []
    for cls, indications, contra, body in _CLASSES:
        entries = " ".join(body.split())
        for entry in entries.split(";"):
            entry = entry.strip()
            if not entry:
                continue
            parts = [p.strip() for p in entry.split(":")]
            name, salt, met, inh, ind = [*parts, "", "", "", ""][:5]
            codes = {"met": met, "inh": inh, "ind": ind}
            enz = {k: [_E[c] for c in v.split(",") if c in _E] for k, v in codes.items()}
            uses = _split(indications) or _MISC_INDICATIONS.get(name, [])
            if name in _MISC_INDICATIONS and cls == "miscellaneous":
                uses = _MISC_INDICATIONS[name]
            drugs.append(
                {
                    "name": name,
                    "salt": salt,
                    "cls": cls,
                    "enzymes": enz["met"],
                    "inhibits": enz["inh"],
                    "induces": enz["ind"],
                    "indications": uses,
                    "contra": sorted(set(_split(contra)) | set(_MISC_CONTRA.get(name, []))),
                }
            )
    return drugs


# --- the graph --------------------------------------------------------------------------------


class _Graph:
    """Nodes (id → labels) and edges, in insertion order, for graph.json."""

    def __init__(self) -> None:
        self.labels: dict[str, list[str]] = {}
        self.edges: dict[tuple[str, str, str], None] = {}

    def node(self, name: str, label: str) -> str:
        found = self.labels.setdefault(name, [])
        if label not in found:
            found.append(label)
        return name

    def edge(self, s: str, rel: str, o: str) -> None:
        self.edges[(s, rel, o)] = None

    def out(self, s: str, rel: str) -> list[str]:
        return [o for (a, r, o) in self.edges if a == s and r == rel]


def _graph(rng: random.Random) -> _Graph:
    g = _Graph()
    for enzyme in _ENZYMES:
        g.node(enzyme, "enzyme")
    for name, *_ in _MANUFACTURERS:
        g.node(name, "manufacturer")
    generic_makers = [m[0] for m in _MANUFACTURERS if m[3] == "generic"]
    substrates: dict[str, list[str]] = {}
    perpetrators: dict[str, list[str]] = {}  # enzyme -> inhibitors and inducers

    def drug(d: dict[str, Any], label: str) -> None:
        name = g.node(d["name"], label)
        for e in d["enzymes"]:
            g.edge(name, "metabolised_by", e)
            substrates.setdefault(e, []).append(name)
        for rel, key in (("inhibits", "inhibits"), ("induces", "induces")):
            for e in d[key]:
                g.edge(name, rel, e)
                perpetrators.setdefault(e, []).append(name)
        for c in d["indications"]:
            g.edge(name, "indicated_for", g.node(c, "condition"))
        for c in d["contra"]:
            g.edge(name, "contraindicated_in", g.node(c, "condition"))

    for p in _PRODUCTS:
        drug(p, "drug")
        g.edge(p["name"], "has_ingredient", g.node(p["generic"], "ingredient"))
        for x in rng.sample(_EXCIPIENTS, rng.randint(4, 6)):
            g.edge(p["name"], "has_ingredient", g.node(x, "ingredient"))
        g.edge(p["name"], "manufactured_by", p["maker"])
    for d in _drug_table():
        drug(d, "drug")
        if d["salt"]:
            g.edge(d["name"], "has_ingredient", g.node(d["salt"], "ingredient"))
        for x in rng.sample(_EXCIPIENTS, rng.randint(2, 4)):
            g.edge(d["name"], "has_ingredient", g.node(x, "ingredient"))
        for m in rng.sample(generic_makers, rng.randint(1, 3)):
            g.edge(d["name"], "manufactured_by", m)
    for code, maker, enzymes, inhibits, indication, partner in _INVESTIGATIONAL:
        g.node(code, "investigational")
        for e in enzymes:
            g.edge(code, "metabolised_by", e)
        for e in inhibits:
            g.edge(code, "inhibits", e)
        g.edge(code, "indicated_for", g.node(indication, "condition"))
        g.edge(code, "manufactured_by", maker)
        g.edge(code, "interacts_with", partner)
        g.edge(partner, "interacts_with", code)
    # interactions: a perpetrator of an enzyme with a sensitive substrate (or a company product)
    company = {p["name"] for p in _PRODUCTS}
    pairs: set[tuple[str, str]] = set()
    for enzyme, victims in substrates.items():
        for victim in victims:
            if victim not in _SENSITIVE and victim not in company:
                continue
            for perp in perpetrators.get(enzyme, []):
                if perp != victim:
                    pairs.add((perp, victim))
    pairs |= set(_PD_INTERACTIONS)
    for a, b in sorted(pairs):
        g.edge(a, "interacts_with", b)
        g.edge(b, "interacts_with", a)
    return g


def _graph_json(g: _Graph) -> dict[str, Any]:
    return {
        "name": "pharma",
        "nodes": [{"id": n, "labels": labels} for n, labels in g.labels.items()],
        "edges": [list(e) for e in g.edges],
    }


def load_graph(directory: str | os.PathLike[str]) -> NetworkXGraph:
    """The knowledge graph ``build`` wrote to ``directory``, with node labels."""
    from crossroads.connectors import NetworkXGraph

    data = json.loads((Path(directory) / "graph.json").read_text(encoding="utf-8"))
    graph = NetworkXGraph()
    for node in data["nodes"]:
        graph.add_node(node["id"], labels=node["labels"], name=node.get("name", node["id"]))
    for s, rel, o in data["edges"]:
        graph.add_edge(s, rel, o)
    return graph


# --- the database -----------------------------------------------------------------------------

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


def _database(path: Path, rng: random.Random) -> dict[str, int]:
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        con.executescript(_SCHEMA)
        makers = {m[0]: i for i, m in enumerate(_MANUFACTURERS, 1)}
        con.executemany(
            "INSERT INTO manufacturers VALUES (?, ?, ?, ?, ?)",
            [(i, *m) for i, m in enumerate(_MANUFACTURERS, 1)],
        )
        con.executemany(
            "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (i, p["name"], p["generic"], p["atc"], p["area"], makers[p["maker"]], p["launch"])
                for i, p in enumerate(_PRODUCTS, 1)
            ],
        )
        con.executemany(
            "INSERT INTO markets VALUES (?, ?, ?, ?)",
            [(i, c, code, region) for i, (c, code, region, _) in enumerate(_MARKETS, 1)],
        )
        sales = []
        for pid, p in enumerate(_PRODUCTS, 1):
            base = rng.uniform(40.0, 160.0)  # list price per pack in Germany, EUR
            share = rng.uniform(0.5, 1.6)
            for mid, (_, code, region, price_index) in enumerate(_MARKETS, 1):
                if rng.random() < 0.12 and p["name"] not in ("Cardiozen", "Neurovia"):
                    continue  # not launched in this market
                size = _MARKET_SIZE.get(code, 0.6) * share
                trend = rng.uniform(-0.01, 0.025)
                for k, month in enumerate(MONTHS):
                    year = int(month[:4])
                    if year < p["launch"] or (year == p["launch"] and int(month[5:]) < 6):
                        continue
                    season = 1.0 + 0.08 * ((k % 12) in (0, 1, 10, 11))
                    units = int(1800 * size * (1 + trend) ** k * season * rng.uniform(0.85, 1.15))
                    revenue = round(units * base * price_index * rng.uniform(0.97, 1.03), 2)
                    country = _MARKETS[mid - 1][0]
                    sales.append((pid, mid, region, country, year, month, units, revenue))
        con.executemany(
            "INSERT INTO sales (product_id, market_id, region, country, year, month, units, "
            "revenue) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            sales,
        )
        trials = []
        for pid, p in enumerate(_PRODUCTS, 1):
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
        weights = [6 if r == "EU" else 8 if r == "US" else 3 for _, _, r, _ in _MARKETS]
        patients = []
        for i in range(1, 2601):
            country, _, region, _ = rng.choices(_MARKETS, weights=weights)[0]
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
        exposure = [
            3 if p["name"] in ("Cardiozen", "Neurovia", "Lipidex") else 1 for p in _PRODUCTS
        ]
        for i in range(1, 3401):
            patient = rng.choice(patients)
            pid = rng.choices(range(1, len(_PRODUCTS) + 1), weights=exposure)[0]
            p = _PRODUCTS[pid - 1]
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


# --- documents: product labels ----------------------------------------------------------------

_SECTIONS = [
    ("indications", "Therapeutic indications"),
    ("dosage", "Posology and method of administration"),
    ("contraindications", "Contraindications"),
    ("warnings", "Special warnings and precautions for use"),
    ("renal", "Use in renal impairment"),
    ("pregnancy", "Pregnancy and breast-feeding"),
    ("interactions", "Interactions with other medicinal products"),
    ("storage", "Storage and shelf life"),
]
_LABEL_NAME = {"EU": "Summary of Product Characteristics (SmPC)", "US": "Prescribing Information"}

_WARNINGS: dict[str, list[str]] = {
    "Cardiozen": [
        "Bleeding: {p} increases the risk of bleeding and can cause serious or fatal bleeding; "
        "monitor for signs of blood loss and measure haemoglobin if bleeding is suspected.",
        "Spinal or epidural haematoma: when neuraxial anaesthesia or spinal puncture is used, "
        "wait at least 24 hours after the last dose of {p} before removing an epidural catheter.",
        "Premature discontinuation of {p} increases the risk of thrombotic events; if {p} must "
        "be stopped for a reason other than bleeding, consider another anticoagulant.",
    ],
    "Neurovia": [
        "Suicidal thoughts and behaviour: patients aged 18 to 24 years treated with "
        "antidepressants such as {p} should be monitored closely, especially in the first weeks.",
        "Serotonin syndrome has been reported when {p} is combined with triptans, tramadol, "
        "linezolid or other serotonergic drugs.",
        "Blood pressure: {p} may increase blood pressure; measure it before starting and "
        "periodically during treatment.",
        "Hyponatraemia, usually in elderly patients, has been reported with {p}.",
    ],
    "Pulmorex": [
        "{p} is not for the relief of acute bronchospasm; patients should carry a short-acting "
        "reliever inhaler at all times.",
        "Paradoxical bronchospasm may occur immediately after inhalation of {p}; stop treatment "
        "at once and use a short-acting bronchodilator.",
        "Cardiovascular effects such as palpitations and QT prolongation may occur with {p}; use "
        "with caution in patients with severe cardiovascular disease.",
        "Hypokalaemia: {p} may lower serum potassium, especially in severe asthma.",
    ],
    "Glucatrol": [
        "Acute pancreatitis has been reported with {p}; stop treatment if persistent severe "
        "abdominal pain occurs.",
        "Hypoglycaemia: when {p} is added to a sulfonylurea or insulin, a lower dose of the "
        "sulfonylurea or insulin may be needed.",
        "Heart failure: monitor patients with risk factors for heart failure treated with {p}.",
    ],
    "Hepalin": [
        "Heparin-induced thrombocytopenia: count platelets before starting {p} and twice weekly "
        "for the first 3 weeks; stop {p} if the count falls by more than 50%.",
        "Spinal or epidural haematoma may occur with {p} in patients receiving neuraxial "
        "anaesthesia; leave at least 12 hours between the last prophylactic dose and catheter "
        "placement.",
        "Hyperkalaemia: monitor potassium in patients with diabetes or renal impairment on {p}.",
    ],
    "Oncoreva": [
        "New primary malignancies, mainly cutaneous squamous cell carcinoma, have occurred with "
        "{p}; perform skin examinations every 2 months.",
        "QT prolongation: monitor the ECG and electrolytes before and during treatment with {p}.",
        "Hepatotoxicity: monitor liver function tests monthly during treatment with {p} and "
        "interrupt treatment for grade 3 elevations.",
        "Embryo-fetal toxicity: {p} can cause fetal harm.",
    ],
    "Immunora": [
        "Serious infections: screen for tuberculosis before starting {p} and do not start it "
        "during an active serious infection.",
        "Herpes zoster reactivation is more common with {p} than with placebo, especially in "
        "Asian patients.",
        "Venous thromboembolism has been reported with {p}; use with caution in patients with "
        "risk factors.",
        "Lipids: measure lipid parameters 8 weeks after starting {p}.",
    ],
    "Lipidex": [
        "Myopathy and rhabdomyolysis: measure creatine kinase (CK) before starting {p} if "
        "risk factors are present; stop {p} if CK exceeds 5 times the upper limit of normal.",
        "Liver enzymes: perform liver function tests before starting {p} and when clinically "
        "indicated.",
        "Diabetes mellitus: {p} may raise blood glucose in patients at high risk.",
    ],
    "Migranol": [
        "Coronary vasospasm: {p} may cause chest tightness; do not give it to patients with "
        "ischaemic heart disease.",
        "Serotonin syndrome may occur when {p} is combined with SSRIs or SNRIs.",
        "Medication overuse headache: using {p} on 10 or more days a month may worsen headache.",
    ],
    "Renavast": [
        "Abrupt withdrawal of {p} may worsen angina; reduce the dose over 1 to 2 weeks.",
        "Bronchospasm: {p} should not be used in patients with asthma.",
        "{p} may mask the symptoms of hypoglycaemia, such as tachycardia, in diabetic patients.",
    ],
    "Gastrolin": [
        "Clostridioides difficile-associated diarrhoea may occur with {p}, especially in "
        "hospitalised patients.",
        "Hypomagnesaemia has been reported after at least 3 months of treatment with {p}; "
        "consider measuring magnesium before and periodically during long-term treatment.",
        "Bone fracture: long-term high-dose {p} may increase the risk of hip, wrist and spine "
        "fractures.",
        "Vitamin B12 deficiency may occur after more than 3 years of treatment with {p}.",
    ],
    "Epilexa": [
        "PR interval prolongation and AV block: obtain an ECG before starting {p} in patients "
        "with conduction problems.",
        "Suicidal ideation has been reported with antiepileptic drugs including {p}; monitor "
        "patients for signs of suicidal thoughts.",
        "Dizziness and ataxia are common with {p}, especially during titration.",
        "Do not stop {p} abruptly; withdraw it over at least 1 week to avoid seizures.",
    ],
}
_PREGNANCY = {
    "Cardiozen": "{p} is not recommended during pregnancy: animal studies have shown "
    "reproductive toxicity and {p} crosses the placenta. Women of childbearing potential should "
    "avoid becoming pregnant during treatment. {p} is excreted in human milk; breast-feeding "
    "should be discontinued during treatment.",
    "Neurovia": "Data on the use of {p} in pregnant women are limited. Neonates exposed to SNRIs "
    "late in the third trimester have developed complications needing respiratory support. {p} "
    "should be used in pregnancy only if the benefit justifies the risk. {p} is excreted in "
    "breast milk (about 0.1% of the maternal dose); breast-feeding is not recommended.",
    "Pulmorex": "There are no adequate data on {p} in pregnant women. {p} may be used during "
    "pregnancy only if the expected benefit to the mother outweighs the risk to the fetus. It "
    "is not known whether {p} is excreted in human milk.",
    "Glucatrol": "There are no adequate data on {p} in pregnant women; insulin is preferred to "
    "control blood glucose during pregnancy, so {p} should not be used. {p} is excreted in the "
    "milk of rats; it should not be used during breast-feeding.",
    "Hepalin": "{p} does not cross the placenta. It may be used during pregnancy when "
    "clinically needed; the multi-dose vials contain benzyl alcohol and should be avoided in "
    "pregnant women. Breast-feeding may continue during treatment with {p}.",
    "Oncoreva": "{p} is contraindicated in pregnancy: it can cause embryo-fetal harm. Women of "
    "childbearing potential must use effective contraception during treatment and for at least "
    "1 month after the last dose of {p}. Breast-feeding should be stopped during treatment and "
    "for 2 weeks after the last dose.",
    "Immunora": "{p} is contraindicated during pregnancy; teratogenic effects were seen in rats "
    "and rabbits. Women of childbearing potential should use effective contraception during "
    "treatment and for at least 4 weeks after the last dose of {p}. Do not breast-feed.",
    "Lipidex": "{p} is contraindicated during pregnancy and breast-feeding, because cholesterol "
    "synthesis is essential for fetal development. Women who become pregnant during treatment "
    "with {p} should stop it immediately.",
    "Migranol": "Limited data on the use of {p} during pregnancy show no increase in major "
    "malformations; {p} should be used only if clearly needed. Avoid breast-feeding for 24 "
    "hours after a dose of {p}.",
    "Renavast": "Beta blockers such as {p} reduce placental perfusion and may cause fetal "
    "growth restriction. If {p} is used in pregnancy, monitor the newborn for bradycardia and "
    "hypoglycaemia for the first 3 days. Breast-feeding is not recommended.",
    "Gastrolin": "Data from more than 1,000 exposed pregnancies show no malformative effect of "
    "{p}. {p} can be used during pregnancy. {p} is excreted in small amounts in breast milk but "
    "is unlikely to affect the infant at therapeutic doses.",
    "Epilexa": "Women taking {p} who become pregnant should be enrolled in the pregnancy "
    "registry. Supplement folic acid before conception and during pregnancy. Do not stop {p} "
    "abruptly during pregnancy because seizures harm mother and fetus.",
}
_ADMIN = {
    "Pulmorex": "inhaled through the mouth with the supplied inhaler; rinse the mouth with "
    "water after each dose",
    "Hepalin": "given by deep subcutaneous injection into the abdominal wall, alternating "
    "between the left and right sides",
    "Oncoreva": "swallowed whole with water, with or without food; capsules must not be opened",
    "Gastrolin": "swallowed whole at least 30 minutes before a meal; tablets must not be "
    "crushed or chewed",
}


def _phrase(rng: random.Random, *options: str) -> str:
    return rng.choice(options)


def _label_text(p: dict[str, Any], region: str, section: str, g: _Graph, rng: random.Random) -> str:
    n, gen = p["name"], p["generic"]
    eu = region == "EU"
    where = "in the EU" if eu else "in the US"
    body: list[str] = []
    if section == "indications":
        uses = " and ".join(p["indications"])
        body.append(
            f"{n} ({gen}) is indicated {where} for the treatment of {uses} in adults."
            if eu
            else f"{n} is a prescription medicine approved {where} to treat adults with {uses}."
        )
        body.append(
            _phrase(
                rng,
                f"{n} is not approved for use in children under 18 years of age.",
                f"The safety and efficacy of {n} in patients under 18 years have not been "
                "established.",
            )
        )
        body.append(f"{n} belongs to ATC group {p['atc']} ({p['area']} products).")
    elif section == "dosage":
        dose = p["eu_dose"] if eu else p["us_dose"]
        how = _ADMIN.get(n, "taken orally, swallowed whole with a glass of water")
        body.append(f"The recommended dose of {n} {where} is {dose}.")
        body.append(f"{n} is available as {p['strength']}. It is {how}.")
        body.append(
            _phrase(
                rng,
                f"If a dose of {n} is missed, it should be taken as soon as remembered on the "
                "same day; a double dose should not be taken to make up for a missed one.",
                f"A missed dose of {n} should be taken on the same day; the patient should not "
                "take two doses at once.",
            )
        )
        body.append(
            f"No dose adjustment of {n} is needed in elderly patients; in moderate hepatic "
            f"impairment (Child-Pugh B) {n} should be used with caution."
        )
    elif section == "contraindications":
        contra = ["hypersensitivity to the active substance or to any of the excipients"]
        contra += p["contra"]
        body.append(f"{n} is contraindicated {where} in patients with: " + "; ".join(contra) + ".")
        strong = [d for d in g.out(n, "interacts_with") if d in ("ketoconazole", "itraconazole")]
        if strong and "CYP3A4" in p["enzymes"]:
            body.append(
                f"Concomitant use of {n} with strong CYP3A4 inhibitors such as "
                f"{' and '.join(strong)} is contraindicated."
            )
    elif section == "warnings":
        body += [w.format(p=n) for w in _WARNINGS[n]]
    elif section == "renal":
        limit, upper, rule = p["renal"]
        unit = "creatinine clearance (CrCl)" if eu else "estimated creatinine clearance"
        if not limit:
            body.append(
                f"No dose adjustment of {n} is required in patients with mild, moderate or "
                f"severe renal impairment; {gen} is mainly cleared by the liver."
            )
        elif upper:
            body.append(
                f"In renal impairment with {unit} of {limit} to {upper} mL/min, the dose of "
                f"{n} is {rule}."
            )
            body.append(f"{n} is not recommended when creatinine clearance is below 15 mL/min.")
        else:
            body.append(
                f"In patients with severe renal impairment ({unit} below {limit} mL/min), "
                f"{n}: {rule}."
            )
        body.append(
            _phrase(
                rng,
                f"Renal function should be assessed before starting {n} and at least once a "
                "year during treatment.",
                f"Assess renal function before initiating {n} and periodically thereafter.",
            )
        )
        body.append(f"{n} has not been studied in patients on dialysis.")
    elif section == "pregnancy":
        body.append(_PREGNANCY[n].format(p=n))
    elif section == "interactions":
        enzymes = p["enzymes"]
        partners = g.out(n, "interacts_with")
        if enzymes:
            body.append(f"{n} ({gen}) is metabolised by {' and '.join(enzymes)}.")
            inhibitors = [d for d in partners if any(e in g.out(d, "inhibits") for e in enzymes)]
            inducers = [d for d in partners if any(e in g.out(d, "induces") for e in enzymes)]
            if inhibitors:
                body.append(
                    f"Inhibitors of {enzymes[0]} such as {', '.join(inhibitors[:6])} increase "
                    f"exposure to {n}; avoid the combination or reduce the dose of {n}."
                )
            if inducers:
                body.append(
                    f"Inducers such as {', '.join(inducers[:5])} reduce the plasma "
                    f"concentration of {n} and may reduce its efficacy."
                )
        else:
            body.append(f"{n} is not metabolised by cytochrome P450 enzymes.")
        for e in p["inhibits"]:
            victims = [d for d in partners if e in g.out(d, "metabolised_by")]
            body.append(
                f"{n} inhibits {e} and may increase the plasma levels of drugs metabolised by "
                f"{e}, such as {', '.join(victims[:5])}."
            )
        for e in p["induces"]:
            body.append(
                f"{n} is a moderate inducer of {e} and may lower exposure to {e} substrates "
                "such as hormonal contraceptives."
            )
        pd = [b for a, b in _PD_INTERACTIONS if a == n]
        if pd:
            body.append(f"Pharmacodynamic interactions are expected with {', '.join(pd)}.")
    elif section == "storage":
        months = p["shelf"]
        body.append(f"The shelf life of {n} is {months} months ({months // 12} years).")
        if n == "Hepalin":
            body.append(
                f"Store {n} syringes in a refrigerator (2 °C to 8 °C); do not freeze. A syringe "
                "may be kept at room temperature (up to 25 °C) once, for up to 28 days."
            )
        elif eu:
            body.append(
                f"Do not store {n} above {rng.choice([25, 30])} °C. Store in the original "
                "package in order to protect from moisture."
            )
        else:
            body.append(
                f"Store {n} at 20 °C to 25 °C (68 °F to 77 °F); excursions permitted between "
                "15 °C and 30 °C (59 °F and 86 °F)."
            )
        if n == "Pulmorex":
            body.append(f"After first opening the {n} inhaler, use it within 3 months.")
        elif n not in ("Hepalin",):
            body.append(
                f"Once the {n} bottle is opened, use the tablets within "
                f"{rng.choice([60, 90, 100])} days."
            )
    return " ".join(body)


def _labels(g: _Graph, rng: random.Random) -> list[dict[str, Any]]:
    docs = []
    for p in _PRODUCTS:
        for region in ("EU", "US"):
            for section, heading in _SECTIONS:
                title = (
                    f"{p['name']} ({p['generic']}) {region} label, {_LABEL_NAME[region]}: {heading}"
                )
                docs.append(
                    {
                        "id": f"label-{p['name'].lower()}-{region.lower()}-{section}",
                        "title": title,
                        "text": _label_text(p, region, section, g, rng),
                        "collection": "labels",
                        "metadata": {
                            "region": region,
                            "classification": "public",
                            "product": p["name"],
                            "section": section,
                            "title": title,
                            "doc_type": "label",
                        },
                    }
                )
    return docs


# --- documents: SOPs --------------------------------------------------------------------------

# id, title, owner, purpose, scope, definitions, procedure, timelines, training, records,
# escalation, quality checks, versions [(version, effective date, change)]
_SOPS: list[dict[str, Any]] = [
    {
        "id": "SOP-PV-001", "title": "Adverse event case processing",
        "owner": "Head of Pharmacovigilance Operations",
        "purpose": "This SOP describes how individual case safety reports (ICSRs) of adverse "
        "events for company products are received, assessed, coded and reported to health "
        "authorities.",
        "scope": "It applies to all adverse event reports from any source (spontaneous reports, "
        "literature, clinical trials, patient support programmes and medical information "
        "enquiries) for products marketed in the EU, the US and APAC.",
        "definitions": [
            "Day 0 is the date on which any company employee or vendor first receives the four "
            "minimum criteria: an identifiable reporter, an identifiable patient, a suspect "
            "product and an adverse event.",
            "A serious adverse event results in death, is life-threatening, requires or "
            "prolongs hospitalisation, results in persistent disability, or is a congenital "
            "anomaly.",
        ],
        "procedure": [
            "Enter every report in the safety database within 1 calendar day of Day 0.",
            "Code reactions with the current MedDRA version and check for duplicates by "
            "patient initials, age, product and reaction.",
            "The case processor assesses seriousness, expectedness against the reference safety "
            "information, and causality.",
            "Send up to two follow-up requests for missing information, the first within 7 days "
            "and the second within 30 days of Day 0.",
        ],
        "timelines": [
            "Serious cases are submitted to the EMA (EudraVigilance) and the FDA within 15 "
            "calendar days of Day 0.",
            "Fatal or life-threatening unexpected cases from clinical trials are reported "
            "within 7 calendar days.",
            "Non-serious EU cases are submitted within 90 calendar days.",
        ],
        "training": "Case processors complete MedDRA coding training and this SOP's read-and-"
        "understand training before processing cases, and refresher training every year.",
        "records": "Source documents, the case narrative and submission acknowledgements are kept "
        "in the safety database for at least 10 years after the product's marketing "
        "authorisation ends.",
        "escalation": "Cases with a fatal outcome are escalated to the EU QPPV within 24 hours.",
        "quality": "A second case processor checks 100% of serious cases and 10% of non-serious "
        "cases; compliance with submission timelines is reported monthly, with a target of 95%.",
        "versions": [
            ("1.0", "2019-03-01", "First issue."),
            ("2.0", "2021-06-15", "Added the 7-day timeline for fatal clinical trial cases."),
            ("3.0", "2023-10-02", "MedDRA duplicate check added; follow-up requests reduced "
             "from three to two."),
        ],
    },
    {
        "id": "SOP-MI-002", "title": "Medical information enquiry handling",
        "owner": "Head of Medical Information",
        "purpose": "This SOP defines how unsolicited medical information enquiries from healthcare "
        "professionals and patients are received, answered and documented.",
        "scope": "It covers enquiries received by phone, e-mail, web form and field medical staff "
        "about company products in all regions.",
        "definitions": [
            "An unsolicited enquiry is a question that was not prompted by the company.",
            "Off-label information is information on a use, dose, population or route not in "
            "the approved label.",
        ],
        "procedure": [
            "Log every enquiry in the medical information database on the day it is received.",
            "Answer with an approved standard response letter where one exists; otherwise the "
            "medical information specialist writes a custom response.",
            "Off-label questions are answered only when the enquiry is unsolicited, and the "
            "response states that the use is not approved.",
            "Any adverse event or product quality complaint mentioned in an enquiry is "
            "forwarded to pharmacovigilance or quality within 1 business day.",
        ],
        "timelines": [
            "Urgent enquiries (a patient is waiting for treatment) are answered within 24 hours.",
            "Standard enquiries are answered within 2 business days.",
            "Complex enquiries needing a literature search are answered within 10 business days.",
        ],
        "training": "Medical information specialists are trained on this SOP, on adverse event "
        "recognition and on data privacy before answering enquiries; training is renewed every "
        "two years.",
        "records": "The enquiry, the response and the enquirer's consent are kept for 5 years; "
        "personal data are deleted after that period.",
        "escalation": "Enquiries from regulators, lawyers or journalists are escalated to the Head "
        "of Medical Information on the same day.",
        "quality": "Each month 5% of closed enquiries are reviewed for accuracy and timeliness; "
        "the target is 90% answered within timelines.",
        "versions": [
            ("1.0", "2018-09-10", "First issue."),
            ("1.1", "2020-04-01", "Web form added as an enquiry channel."),
            ("2.0", "2022-11-20", "Urgent enquiry timeline shortened from 48 to 24 hours; "
             "data privacy training added."),
        ],
    },
    {
        "id": "SOP-PV-003", "title": "Signal detection and management",
        "owner": "EU Qualified Person for Pharmacovigilance (QPPV)",
        "purpose": "This SOP sets out how safety signals for company products are detected, "
        "validated, prioritised and assessed.",
        "scope": "It applies to signals from the safety database, EudraVigilance, FAERS, "
        "literature and clinical trial data for all marketed products.",
        "definitions": [
            "A signal is information suggesting a new causal association, or a new aspect of a "
            "known association, between a product and an adverse event.",
            "A disproportionality signal needs a proportional reporting ratio (PRR) of at least "
            "2, a chi-squared value of at least 4 and at least 3 cases.",
        ],
        "procedure": [
            "Run disproportionality analyses of the safety database every month.",
            "Review EudraVigilance data (eRMR) every month for products with additional "
            "monitoring and every 6 months for the others.",
            "The signal management team validates each signal, then prioritises it by "
            "seriousness, novelty and public health impact.",
            "Validated signals are assessed by the safety review committee.",
        ],
        "timelines": [
            "Signal validation is completed within 30 days of detection.",
            "Emerging safety issues are notified to the EMA and national authorities within 3 "
            "business days.",
            "Signal assessment is completed within 60 days of validation.",
        ],
        "training": "Signal management scientists are trained on this SOP and on statistical "
        "methods for disproportionality before their first review cycle.",
        "records": "The signal tracking log records every signal, its validation decision, its "
        "priority and its outcome; it is archived for the life of the product plus 10 years.",
        "escalation": "Signals that may change the benefit-risk balance are escalated to the QPPV "
        "and the chief medical officer within 24 hours.",
        "quality": "The QPPV reviews the signal tracking log every quarter.",
        "versions": [
            ("1.0", "2017-05-22", "First issue."),
            ("2.0", "2020-02-03", "eRMR review added following the EU signal management "
             "guideline."),
            ("2.1", "2024-01-15", "Chi-squared threshold added to the disproportionality "
             "criteria; assessment timeline set to 60 days."),
        ],
    },
    {
        "id": "SOP-RA-004", "title": "Labelling change control",
        "owner": "Head of Regulatory Affairs",
        "purpose": "This SOP describes how changes to the company core data sheet (CCDS) and to "
        "local product labels (SmPC, Prescribing Information, package leaflets) are proposed, "
        "approved and implemented.",
        "scope": "It applies to safety and non-safety label changes for all company products in "
        "the EU, the US and APAC.",
        "definitions": [
            "The company core data sheet is the reference document for all local labels.",
            "A safety-related label change adds or strengthens a warning, contraindication or "
            "adverse reaction.",
        ],
        "procedure": [
            "The labelling committee reviews every proposed change to the CCDS.",
            "Local affiliates assess each approved CCDS change and submit a variation or "
            "supplement to their health authority.",
            "Packaging artwork is updated after the health authority approves the new text.",
        ],
        "timelines": [
            "The labelling committee decides on a proposed CCDS change within 30 days.",
            "Safety-related changes are submitted to health authorities within 90 days of CCDS "
            "approval.",
            "New packs with the approved text are released within 6 months of approval.",
        ],
        "training": "Regulatory affairs staff and affiliate labelling leads are trained on this "
        "SOP before they submit label changes.",
        "records": "The labelling change log, committee minutes and health authority approvals "
        "are kept for the life of the product.",
        "escalation": "A disagreement between an affiliate and the CCDS is escalated to the Head "
        "of Regulatory Affairs within 5 business days.",
        "quality": "Label compliance with the CCDS is audited every year for each product.",
        "versions": [
            ("1.0", "2016-01-11", "First issue."),
            ("2.0", "2019-07-01", "Packaging artwork step added."),
            ("3.0", "2023-05-08", "Safety-related submission timeline shortened from 180 to 90 "
             "days."),
        ],
    },
    {
        "id": "SOP-QA-005", "title": "Product quality complaint handling",
        "owner": "Head of Quality Assurance",
        "purpose": "This SOP explains how product quality complaints are recorded, triaged, "
        "investigated and closed.",
        "scope": "It covers complaints about the quality of any batch of a company product, "
        "including suspected counterfeits, from any source.",
        "definitions": [
            "A critical complaint suggests a defect that could cause serious harm, such as a "
            "wrong tablet in a pack or a contaminated sterile product.",
            "A complaint sample is the returned product from the complainant.",
        ],
        "procedure": [
            "Record the complaint in the quality management system with the batch number.",
            "Quality assurance triages the complaint as critical, major or minor.",
            "The manufacturing site investigates the retained samples and the batch record.",
            "Complaints involving an adverse event are also forwarded to pharmacovigilance.",
        ],
        "timelines": [
            "Complaints are triaged within 1 business day.",
            "Critical complaints are escalated to the qualified person within 24 hours.",
            "Investigations are closed within 30 days.",
        ],
        "training": "Staff who receive complaints are trained to record the batch number and to "
        "ask for a complaint sample.",
        "records": "Complaint files are kept for at least 1 year after the batch expiry date, and "
        "never less than 5 years.",
        "escalation": "A suspected counterfeit is escalated to the qualified person and the "
        "security team immediately.",
        "quality": "Complaint trends per product and per site are reviewed every quarter in the "
        "quality management review.",
        "versions": [
            ("1.0", "2018-02-19", "First issue."),
            ("1.1", "2021-09-30", "Suspected counterfeit complaints added."),
        ],
    },
    {
        "id": "SOP-MI-006", "title": "Standard response letter authoring and review",
        "owner": "Medical Information Content Lead",
        "purpose": "This SOP defines how standard medical information response letters are "
        "written, reviewed, approved and withdrawn.",
        "scope": "It applies to all standard response letters in the medical information "
        "database, in every region.",
        "definitions": [
            "A standard response letter answers a frequently asked question with balanced, "
            "referenced information.",
            "A confidential letter cites data on file that have not been published.",
        ],
        "procedure": [
            "A medical information specialist drafts the letter from the label and the "
            "published literature.",
            "A second specialist performs a medical review, and regulatory and legal review "
            "follows for letters with off-label content.",
            "Approved letters are classified as public, internal or confidential.",
        ],
        "timelines": [
            "Every standard response letter is reviewed at least every 2 years.",
            "Letters affected by a label change are updated within 30 days of the change.",
        ],
        "training": "Authors are trained on this SOP and on literature search methods before "
        "writing their first letter.",
        "records": "Every approved version of a letter and its review record are kept for 10 "
        "years.",
        "escalation": "Disputes between reviewers are escalated to the Head of Medical "
        "Information.",
        "quality": "Each quarter, 10% of letters are checked for outdated references.",
        "versions": [
            ("1.0", "2019-11-04", "First issue."),
            ("2.0", "2022-03-14", "Classification of letters as public, internal or "
             "confidential introduced."),
            ("2.1", "2024-06-03", "Update of affected letters within 30 days of a label change "
             "added."),
        ],
    },
    {
        "id": "SOP-PV-007", "title": "Periodic safety update reports",
        "owner": "Head of Aggregate Safety Reporting",
        "purpose": "This SOP describes how periodic safety update reports (PSURs, also called "
        "PBRERs) and US periodic adverse drug experience reports are prepared and submitted.",
        "scope": "It applies to all company products with a periodic reporting obligation.",
        "definitions": [
            "The data lock point (DLP) is the date on which data for the report are frozen.",
            "The reporting interval is set by the EU reference dates list or the US approval "
            "date.",
        ],
        "procedure": [
            "Aggregate safety reporting agrees the report schedule each January.",
            "Data are extracted from the safety database at the data lock point.",
            "Medical safety physicians write the benefit-risk evaluation.",
            "The QPPV approves EU PSURs before submission.",
        ],
        "timelines": [
            "PSURs covering up to 12 months are submitted within 70 calendar days of the DLP.",
            "PSURs covering more than 12 months are submitted within 90 calendar days of the "
            "DLP.",
            "US quarterly reports are submitted within 30 days of the end of the quarter.",
        ],
        "training": "Authors of periodic reports are trained on the PBRER guideline (ICH E2C(R2)) "
        "and on this SOP.",
        "records": "Submitted reports and acknowledgements are kept for the life of the product "
        "plus 10 years.",
        "escalation": "A risk of missing a submission deadline is escalated to the QPPV at least "
        "10 days before the deadline.",
        "quality": "Each report is checked against a quality checklist before QPPV approval.",
        "versions": [
            ("1.0", "2018-06-25", "First issue."),
            ("2.0", "2022-08-29", "US quarterly reports added to the scope."),
        ],
    },
]  # fmt: skip


def _sop_text(s: dict[str, Any]) -> str:
    current = s["versions"][-1]
    lines = [
        f"# {s['id']}: {s['title']}",
        "",
        f"Version {current[0]}, effective {current[1]}. Owner: {s['owner']}.",
        "",
        "## Purpose",
        "",
        s["purpose"],
        "",
        "## Scope",
        "",
        s["scope"],
        "",
        "## Owner and responsibilities",
        "",
        f"The owner of this SOP is the {s['owner']}, who keeps it current and approves each "
        "new version. Line managers make sure their staff are trained on it.",
        "",
        "## Definitions",
        "",
        *[f"- {d}" for d in s["definitions"]],
        "",
        "## Procedure",
        "",
        *[f"{i}. {step}" for i, step in enumerate(s["procedure"], 1)],
        "",
        "## Timelines",
        "",
        *[f"- {t}" for t in s["timelines"]],
        "",
        "## Roles",
        "",
        *[f"- {role}: {duty}" for role, duty in s.get("roles", _roles(s))],
        "",
        "## Escalation",
        "",
        s["escalation"],
        "",
        "## Quality checks",
        "",
        s["quality"],
        "",
        "## Training",
        "",
        s["training"],
        "",
        "## Records and archiving",
        "",
        s["records"],
        "",
        "## Deviations",
        "",
        f"Any deviation from {s['id']} is recorded in the deviation log within 2 business days, "
        f"with its root cause and a corrective and preventive action (CAPA). The {s['owner']} "
        "reviews open deviations every month; a deviation that affected a regulatory "
        "submission is also reported to the Head of Quality Assurance.",
        "",
        "## Related documents",
        "",
        *[f"- {r}" for r in _related(s)],
        "",
        "## Change history",
        "",
        *[f"- Version {v} ({d}): {c}" for v, d, c in s["versions"]],
    ]
    return "\n".join(lines) + "\n"


def _roles(s: dict[str, Any]) -> list[tuple[str, str]]:
    """Who does what under an SOP: its owner, the people doing the work, and QA."""
    return [
        (s["owner"], f"approves {s['id']}, owns its timelines and reviews its metrics."),
        (
            "Process specialists",
            "carry out the procedure, record each step in the system "
            "of record and raise deviations when a timeline is at risk.",
        ),
        (
            "Line managers",
            "assign work, check that their staff have completed training on "
            f"{s['id']} and cover absences so that no timeline is missed.",
        ),
        (
            "Quality Assurance",
            f"audits compliance with {s['id']} at least every 2 years and follows up CAPAs.",
        ),
    ]


def _related(s: dict[str, Any]) -> list[str]:
    """The other SOPs and guidance an SOP refers to."""
    others = [f"{o['id']} {o['title']}" for o in _SOPS if o["id"] != s["id"]]
    guidance = {
        "PV": "EU Good Pharmacovigilance Practices (GVP) Modules VI and IX; 21 CFR 314.80",
        "MI": "IFAPP/MILE medical information standards; EFPIA Code of Practice",
        "RA": "EU Guideline on the SmPC (2009); 21 CFR 201.57",
        "QA": "EU GMP Chapter 8 (complaints and product recall); 21 CFR 211.198",
    }[s["id"].split("-")[1]]
    return [guidance, *others[:3]]


def _sops() -> list[dict[str, Any]]:
    return [
        {
            "id": s["id"].lower(),
            "text": _sop_text(s),
            "collection": "sops",
            "metadata": {
                "region": "global",
                "classification": "internal",
                "product": "",
                "section": "sop",
                "title": f"{s['id']} {s['title']}",
                "doc_type": "sop",
                "owner": s["owner"],
                "version": s["versions"][-1][0],
                "effective": s["versions"][-1][1],
            },
        }
        for s in _SOPS
    ]


# --- documents: response letters ----------------------------------------------------------------

# product, slug, subject, region, classification, paragraphs
_LETTERS: list[tuple[str, str, str, str, str, list[str]]] = [
    ("Cardiozen", "haemodialysis", "Use of Cardiozen in patients on haemodialysis", "global",
     "public", [
        "Cardiozen has not been studied in patients on haemodialysis and its use is not "
        "recommended when creatinine clearance is below 15 mL/min.",
        "In a pharmacokinetic study, a single 15 mg dose of cardoxaban given after dialysis "
        "gave an exposure 56% higher than in subjects with normal renal function.",
        "Cardoxaban is about 92% bound to plasma proteins, so it is not expected to be "
        "dialysable."]),
    ("Cardiozen", "crushing", "Crushing Cardiozen tablets for administration via a feeding "
     "tube", "EU", "public", [
        "Cardiozen tablets may be crushed and mixed with water or apple puree immediately "
        "before use.",
        "Crushed Cardiozen tablets can be given through a nasogastric tube of at least 8 French; "
        "flush the tube with 20 mL of water afterwards.",
        "Bioavailability of crushed cardoxaban given by nasogastric tube was comparable to the "
        "whole tablet (AUC ratio 0.97)."]),
    ("Cardiozen", "switching-warfarin", "Switching patients from warfarin to Cardiozen", "US",
     "public", [
        "When switching from warfarin, stop warfarin and start Cardiozen once the INR is below "
        "3.0.",
        "When switching from Cardiozen to warfarin, give both drugs together until the INR is "
        "at least 2.0, measuring the INR just before the next Cardiozen dose."]),
    ("Cardiozen", "reversal-data", "Reversal of Cardiozen anticoagulation: unpublished data on "
     "file", "global", "confidential", [
        "Data on file from study HLV-CZ-114 (not yet published) show that andexanet-type "
        "reversal agents reduced anti-factor Xa activity of cardoxaban by 88% within 30 "
        "minutes in 41 healthy volunteers.",
        "Four-factor prothrombin complex concentrate at 50 IU/kg reduced the anticoagulant "
        "effect of Cardiozen by 60% in the same study.",
        "These results are confidential and must not be shared outside the company."]),
    ("Neurovia", "breastfeeding", "Use of Neurovia during breast-feeding", "EU", "public", [
        "Neuroxetine passes into breast milk; the relative infant dose is about 0.1% of the "
        "weight-adjusted maternal dose.",
        "Case reports describe sedation and poor feeding in two breast-fed infants whose "
        "mothers took Neurovia 60 mg daily.",
        "The EU label does not recommend breast-feeding during Neurovia treatment."]),
    ("Neurovia", "discontinuation", "Discontinuation symptoms after stopping Neurovia", "US",
     "public", [
        "Discontinuation symptoms such as dizziness, nausea, headache and paraesthesia occurred "
        "in 44% of patients who stopped Neurovia abruptly in clinical trials.",
        "Taper Neurovia over at least 2 weeks, reducing the dose by 30 mg a week."]),
    ("Neurovia", "adolescents", "Use of Neurovia in adolescents (off-label)", "global",
     "internal", [
        "Neurovia is not approved for patients under 18 years of age.",
        "In an unpublished 10-week study in 203 adolescents aged 13 to 17 years, neuroxetine "
        "did not separate from placebo on the CDRS-R total score.",
        "This letter is for internal use by medical information specialists answering "
        "unsolicited questions."]),
    ("Pulmorex", "inhaler-technique", "Pulmorex inhaler technique and cleaning", "global",
     "public", [
        "Patients should breathe out fully, seal their lips around the mouthpiece and inhale "
        "quickly and deeply.",
        "Wipe the Pulmorex mouthpiece with a dry tissue once a week; never wash it with water."]),
    ("Pulmorex", "children", "Use of Pulmorex in children under 12 years", "EU", "internal", [
        "Pulmorex is not authorised in children under 12 years in the EU.",
        "A phase 2 study in 148 children aged 6 to 11 years found a mean improvement in FEV1 of "
        "110 mL compared with placebo; the paediatric programme is ongoing."]),
    ("Glucatrol", "lactose", "Lactose content of Glucatrol tablets", "global", "public", [
        "Each Glucatrol 100 mg tablet contains 98 mg of lactose monohydrate.",
        "Patients with hereditary galactose intolerance, total lactase deficiency or "
        "glucose-galactose malabsorption should not take Glucatrol."]),
    ("Glucatrol", "ramadan", "Glucatrol during Ramadan fasting", "global", "public", [
        "Glucatrol has a low intrinsic risk of hypoglycaemia and can usually be continued "
        "unchanged during Ramadan.",
        "If Glucatrol is combined with a sulfonylurea, the sulfonylurea dose taken at the "
        "pre-dawn meal should be reduced."]),
    ("Hepalin", "obesity", "Hepalin dosing in obese patients", "US", "public", [
        "Hepalin is dosed by actual body weight up to 144 kg in clinical studies.",
        "In patients above 144 kg, monitor anti-Xa activity 4 hours after the third dose; the "
        "target range is 0.5 to 1.0 IU/mL."]),
    ("Hepalin", "pregnancy-data", "Hepalin in pregnancy: registry data on file", "global",
     "confidential", [
        "Data on file from the Hepalin pregnancy registry (612 pregnancies, unpublished) show a "
        "major malformation rate of 2.1%, similar to the background rate.",
        "Three cases of epidural haematoma were reported at delivery; all followed a dose less "
        "than 12 hours before the epidural."]),
    ("Oncoreva", "hepatic", "Oncoreva in patients with hepatic impairment", "global",
     "public", [
        "In mild hepatic impairment (Child-Pugh A), the exposure to oncorafenib was 25% "
        "higher; no dose adjustment is needed.",
        "Oncoreva has not been studied in moderate or severe hepatic impairment; a starting "
        "dose of 300 mg once daily may be considered."]),
    ("Oncoreva", "cyp3a4-inhibitors", "Oncoreva with strong CYP3A4 inhibitors", "US",
     "public", [
        "Posaconazole increased oncorafenib AUC 3-fold in a drug interaction study.",
        "If a strong CYP3A4 inhibitor such as clarithromycin or ketoconazole cannot be "
        "avoided, reduce the Oncoreva dose to one third of the current dose."]),
    ("Immunora", "vaccines", "Vaccination during Immunora treatment", "global", "public", [
        "Live vaccines, including the live herpes zoster vaccine, should not be given during "
        "Immunora treatment.",
        "Bring immunisations up to date before starting Immunora; give live vaccines at least "
        "4 weeks before the first dose."]),
    ("Immunora", "longterm-safety", "Immunora long-term safety: data on file", "global",
     "confidential", [
        "Unpublished data from the 7-year extension study (n = 3,412) show a malignancy "
        "incidence of 0.9 per 100 patient-years and a serious infection rate of 2.7 per 100 "
        "patient-years with Immunora.",
        "These data are confidential until the publication planned for 2026."]),
    ("Lipidex", "grapefruit", "Lipidex and grapefruit juice", "global", "public", [
        "Grapefruit juice inhibits intestinal CYP3A4 and can raise lipavastatin exposure.",
        "Patients on Lipidex should avoid more than 250 mL of grapefruit juice a day."]),
    ("Lipidex", "muscle-symptoms", "Muscle symptoms with Lipidex", "EU", "public", [
        "Muscle pain was reported by 4.3% of patients on Lipidex 40 mg and 3.9% on placebo.",
        "Measure creatine kinase when muscle symptoms occur and stop Lipidex if CK is above 5 "
        "times the upper limit of normal."]),
    ("Migranol", "menstrual-migraine", "Migranol for menstrual migraine (off-label "
     "prophylaxis)", "EU", "internal", [
        "Migranol is approved for the acute treatment of migraine, not for prevention.",
        "In a small unpublished pilot study, short-term prophylaxis with Migranol 20 mg twice "
        "daily for 6 days reduced menstrual migraine days by 1.8 per cycle."]),
    ("Renavast", "elderly", "Renavast in patients over 85 years", "global", "public", [
        "In patients aged over 85 years, start Renavast at 2.5 mg once daily.",
        "Postural hypotension was reported in 6% of patients aged over 75 years in clinical "
        "studies."]),
    ("Gastrolin", "clopidogrel", "Gastrolin and clopidogrel", "US", "public", [
        "Gastrolin inhibits CYP2C19 and reduces the conversion of clopidogrel to its active "
        "metabolite by about 40%.",
        "Avoid Gastrolin in patients taking clopidogrel; consider pantoprazole or an H2 "
        "antagonist such as famotidine."]),
    ("Epilexa", "driving", "Driving while taking Epilexa", "EU", "public", [
        "Dizziness and blurred vision are common with Epilexa, especially during titration.",
        "Patients should not drive until they know how Epilexa affects them and until their "
        "seizures are controlled, as required by national driving rules."]),
    ("Epilexa", "contraceptives", "Epilexa and hormonal contraceptives", "global", "internal", [
        "Epicosamide is a moderate CYP3A4 inducer and lowered ethinylestradiol exposure by 30% "
        "in an interaction study on file.",
        "Women using Epilexa should use an additional non-hormonal method of contraception."]),
]  # fmt: skip


def _letters(rng: random.Random) -> list[dict[str, Any]]:
    docs = []
    for i, (product, slug, subject, region, cls, paras) in enumerate(_LETTERS, 1):
        opening = _phrase(
            rng,
            f"Thank you for your enquiry about {product}.",
            f"Thank you for contacting Medical Information about {product}.",
            f"You asked for information about {product}.",
        )
        text = "\n\n".join(
            [
                f"Medical information response letter MI-{2020 + i % 5}-{i:03d}: {subject}",
                f"Dear Healthcare Professional, {opening}",
                *paras,
                "Please report any suspected adverse reactions to Medical Information. "
                "Yours sincerely, Medical Information",
            ]
        )
        docs.append(
            {
                "id": f"letter-{product.lower()}-{slug}",
                "text": text,
                "collection": "letters",
                "metadata": {
                    "region": region,
                    "classification": cls,
                    "product": product,
                    "section": "letter",
                    "title": subject,
                    "doc_type": "response_letter",
                },
            }
        )
    return docs


def load_documents(directory: str | os.PathLike[str]) -> DocumentIndex:
    """The documents ``build`` wrote to ``directory``, each in its collection."""
    from crossroads.connectors import DocumentIndex

    index = DocumentIndex("labels")
    path = Path(directory) / "documents.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            doc = json.loads(line)
            text = f"{doc['title']}\n\n{doc['text']}" if doc.get("title") else doc["text"]
            index.add(doc["id"], text, doc["metadata"], doc["collection"])
    return index


# --- building ---------------------------------------------------------------------------------


def _jsonl(items: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n" for item in items)


def build(directory: str | os.PathLike[str]) -> None:
    """Write the domain into ``directory`` (replaced whole: built in a sibling temporary
    directory, then renamed, so a half-built directory is never seen)."""
    target = Path(directory).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        rng = random.Random(SEED)
        _database(staging / "pharma.sqlite", random.Random(rng.random()))
        graph = _graph(random.Random(rng.random()))
        (staging / "graph.json").write_text(
            json.dumps(_graph_json(graph), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        docs_rng = random.Random(rng.random())
        docs = _labels(graph, docs_rng) + _sops() + _letters(docs_rng)
        (staging / "documents.jsonl").write_text(_jsonl(docs), encoding="utf-8")
        questions = _questions(graph, docs, staging / "pharma.sqlite", random.Random(rng.random()))
        (staging / "questions.jsonl").write_text(_jsonl(questions), encoding="utf-8")
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}-old-{os.getpid()}")
            target.rename(old)
        staging.chmod(0o755)
        staging.rename(target)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def read_questions(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The labelled questions ``build`` wrote to ``directory``."""
    text = (Path(directory) / "questions.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- labelled questions -------------------------------------------------------------------------

# which node labels each principal may see, and which relations it may traverse (the policy's
# graph rules, restated to compute the gold answers each principal should get)
_GRAPH_VIEW: dict[str, tuple[frozenset[str] | None, frozenset[str] | None]] = {
    "carol": (None, None),
    "alice": (frozenset({"drug", "ingredient", "enzyme", "condition", "manufacturer"}), None),
    "erin": (frozenset({"drug", "ingredient", "enzyme", "condition", "manufacturer"}), None),
    "bob": (
        frozenset({"drug", "ingredient", "condition", "manufacturer"}),
        frozenset({"has_ingredient", "indicated_for", "contraindicated_in", "manufactured_by"}),
    ),
}


def _follow(g: _Graph, start: str, path: list[tuple[str, str]], labels: frozenset[str] | None):
    """The answer set of a relation path from ``start`` (as GraphQA's traversal computes it)."""
    out: dict[tuple[str, str], list[str]] = {}
    inc: dict[tuple[str, str], list[str]] = {}
    for s, r, o in g.edges:
        out.setdefault((s, r), []).append(o)
        inc.setdefault((o, r), []).append(s)
    layer = {start}
    for depth, (rel, direction) in enumerate(path):
        nxt: set[str] = set()
        for node in layer:
            found = (out if direction == "out" else inc).get((node, rel), [])
            for other in found:
                if depth and other == start:
                    continue
                if labels is not None and not set(g.labels[other]) & labels:
                    continue
                nxt.add(other)
        layer = nxt
    return sorted(layer)


# (template id, question, path, entity kind)
_GRAPH_TEMPLATES: list[tuple[str, str, list[tuple[str, str]], str]] = [
    ("g01", "Which enzymes metabolise {e}?", [("metabolised_by", "out")], "substrate"),
    ("g02", "Which drugs are metabolised by {e}?", [("metabolised_by", "in")], "enzyme"),
    ("g03", "Which drugs inhibit {e}?", [("inhibits", "in")], "enzyme"),
    ("g04", "Which drugs are known inducers of {e}?", [("induces", "in")], "enzyme"),
    ("g05", "What does {e} interact with?", [("interacts_with", "out")], "victim"),
    ("g06", "Which drugs interact with drugs metabolised by {e}?",
     [("metabolised_by", "in"), ("interacts_with", "out")], "enzyme"),
    ("g07", "Who manufactures drugs containing {e}?",
     [("has_ingredient", "in"), ("manufactured_by", "out")], "ingredient"),
    ("g08", "What is {e} indicated for?", [("indicated_for", "out")], "drug"),
    ("g09", "Which drugs are contraindicated in {e}?", [("contraindicated_in", "in")], "contra"),
    ("g10", "Which enzymes are inhibited by drugs that interact with {e}?",
     [("interacts_with", "out"), ("inhibits", "out")], "product"),
    ("g11", "Which ingredients does {e} contain?", [("has_ingredient", "out")], "product"),
    ("g12", "Which enzymes metabolise the drugs made by {e}?",
     [("manufactured_by", "in"), ("metabolised_by", "out")], "manufacturer"),
    ("g13", "Which drugs are metabolised by enzymes that {e} inhibits?",
     [("inhibits", "out"), ("metabolised_by", "in")], "inhibitor"),
    ("g14", "Which conditions are treated by drugs that interact with {e}?",
     [("interacts_with", "out"), ("indicated_for", "out")], "product"),
    ("g15", "Which manufacturers make drugs indicated for {e}?",
     [("indicated_for", "in"), ("manufactured_by", "out")], "indication"),
    ("g16", "Which drugs does {e} manufacture?", [("manufactured_by", "in")], "manufacturer"),
    # held out only: new wordings of the paths above
    ("g17", "What enzymes is {e} metabolised by?", [("metabolised_by", "out")], "substrate"),
    ("g18", "What drugs does {e} interact with?", [("interacts_with", "out")], "victim"),
    ("g19", "Which companies make products that contain {e}?",
     [("has_ingredient", "in"), ("manufactured_by", "out")], "ingredient"),
    ("g20", "For which conditions is {e} indicated?", [("indicated_for", "out")], "drug"),
    ("g21", "Which medicines should be avoided, being contraindicated in {e}?",
     [("contraindicated_in", "in")], "contra"),
    ("g22", "List the drugs that are metabolised by {e}.", [("metabolised_by", "in")], "enzyme"),
]  # fmt: skip
_GRAPH_HELDOUT_ONLY = {"g17", "g18", "g19", "g20", "g21", "g22"}


def _graph_pools(g: _Graph) -> dict[str, list[str]]:
    drugs = [n for n, labels in g.labels.items() if "drug" in labels]
    company = [p["name"] for p in _PRODUCTS]
    has = {(s, r) for s, r, _ in g.edges}
    targets = {(o, r) for _, r, o in g.edges}
    return {
        "substrate": [d for d in drugs if (d, "metabolised_by") in has],
        "enzyme": [e for e in _ENZYMES if (e, "metabolised_by") in targets],
        "victim": company + sorted(_SENSITIVE),
        "ingredient": [p["generic"] for p in _PRODUCTS] + _EXCIPIENTS[:12],
        "drug": [d for d in drugs if (d, "indicated_for") in has],
        "contra": sorted({o for _, r, o in g.edges if r == "contraindicated_in"}),
        "product": company,
        "manufacturer": [m[0] for m in _MANUFACTURERS],
        "inhibitor": sorted(
            {s for s, r, _ in g.edges if r == "inhibits"} - {i[0] for i in _INVESTIGATIONAL}
        ),
        "indication": sorted({o for _, r, o in g.edges if r == "indicated_for"}),
    }


def _graph_questions(g: _Graph, rng: random.Random) -> list[dict[str, Any]]:
    pools = _graph_pools(g)
    out = []
    for tid, text, path, kind in _GRAPH_TEMPLATES:
        relations = {r for r, _ in path}
        who = [p for p, (_, rels) in _GRAPH_VIEW.items() if rels is None or relations <= rels]
        chosen: list[str] = []
        candidates = list(pools[kind])
        rng.shuffle(candidates)
        for entity in candidates:
            if len(chosen) >= (3 if tid in _GRAPH_HELDOUT_ONLY else 4):
                break
            principal = rng.choice(who)
            answers = _follow(g, entity, path, _GRAPH_VIEW[principal][0])
            if not answers or len(answers) > 60:
                continue
            chosen.append(entity)
            out.append(
                {
                    "template": tid,
                    "question": text.format(e=entity),
                    "route": "graph",
                    "failure_mode": "multi_hop",
                    "principal": principal,
                    "answers": answers,
                    "path": "/".join(("^" if d == "in" else "") + r for r, d in path),
                }
            )
    return out


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
_SQL_HELDOUT_ONLY = {"s19", "s20", "s21", "s22", "s23", "s24"}
_EU = [m[0] for m in _MARKETS if m[2] == "EU"]


def _sql_fill(kind: str, rng: random.Random) -> tuple[dict[str, Any], str]:
    """Values for a template's blanks, and the principal who asks."""
    product = rng.choice(_PRODUCTS)
    fill: dict[str, Any] = {
        "product": product["name"],
        "year": rng.choice([2023, 2024, 2025]),
        "phase": rng.choice([1, 2, 3]),
        "status": rng.choice(["completed", "recruiting", "active"]),
        "indication": rng.choice(product["indications"]),
        "sex": rng.choice(["female", "male"]),
        "severity": rng.choice(["mild", "moderate", "severe"]),
        "manufacturer": rng.choice(_MANUFACTURERS[:4])[0],
        "mcountry": rng.choice([m[1] for m in _MANUFACTURERS]),
    }
    if kind in ("ae_country", "sales_country"):
        principal = rng.choice(["alice", "carol", "bob" if kind == "sales_country" else "carol"])
        if principal == "bob":
            fill["country"] = "United States"
        elif principal == "alice":
            fill["country"] = rng.choice(_EU)
        else:
            fill["country"] = rng.choice([m[0] for m in _MARKETS])
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
        fill["country"] = rng.choice([m[0] for m in _MARKETS])
        fill["year"] = rng.choice([1950, 1960, 1975, 1990])
    else:
        principal = rng.choice(["alice", "bob", "dave"])
        fill["year"] = rng.choice([2010, 2012, 2015, 2018])
    return fill, principal


_REGION_ROWS = {"alice": "EU", "bob": "US", "erin": "US"}


def _sql_questions(db: Path, rng: random.Random) -> list[dict[str, Any]]:
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
        for p in rng.sample(_PRODUCTS, 4 if tid not in _RAG_HELDOUT_ONLY else 3):
            region = rng.choice(["EU", "US"])
            topics = [_warning_topic(w) for w in _WARNINGS[p["name"]]]
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
                product = next((p["name"] for p in _PRODUCTS if p["name"] in first["question"]), "")
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


_HELDOUT_ONLY = _GRAPH_HELDOUT_ONLY | _SQL_HELDOUT_ONLY | _RAG_HELDOUT_ONLY | _LC_HELDOUT_ONLY


def _questions(
    g: _Graph, docs: list[dict[str, Any]], db: Path, rng: random.Random
) -> list[dict[str, Any]]:
    single = (
        _sql_questions(db, rng) + _graph_questions(g, rng) + _rag_questions(docs, rng)
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


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python domain.py DIRECTORY")
    build(sys.argv[1])
    print(f"built the pharma domain in {sys.argv[1]}")
