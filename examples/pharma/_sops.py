"""The internal SOP documents of the pharma domain."""

from __future__ import annotations

from typing import Any

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


def sop_documents() -> list[dict[str, Any]]:
    """The SOP documents, one per entry of ``_SOPS``."""
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
