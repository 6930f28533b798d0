"""Product label documents of the pharma domain: one per product, region and section."""

from __future__ import annotations

import random
from typing import Any

from ._company import PRODUCTS
from ._drugs import PD_INTERACTIONS
from ._graph import Graph

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

WARNINGS: dict[str, list[str]] = {
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


def phrase(rng: random.Random, *options: str) -> str:
    """One of ``options``, chosen by ``rng`` (varies the wording between documents)."""
    return rng.choice(options)


def _label_text(p: dict[str, Any], region: str, section: str, g: Graph, rng: random.Random) -> str:
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
            phrase(
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
            phrase(
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
        body += [w.format(p=n) for w in WARNINGS[n]]
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
            phrase(
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
        pd = [b for a, b in PD_INTERACTIONS if a == n]
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


def label_documents(g: Graph, rng: random.Random) -> list[dict[str, Any]]:
    """The label documents: one per product, region (EU, US) and section."""
    docs = []
    for p in PRODUCTS:
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
