"""Medical-information response letters of the pharma domain."""

from __future__ import annotations

import random
from typing import Any

from ._labels import phrase

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


def letter_documents(rng: random.Random) -> list[dict[str, Any]]:
    """The response letter documents, one per entry of ``_LETTERS``."""
    docs = []
    for i, (product, slug, subject, region, cls, paras) in enumerate(_LETTERS, 1):
        opening = phrase(
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
