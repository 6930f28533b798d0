"""The graph's other drugs (by class), enzymes, interactions, investigational compounds
and excipients of the pharma domain."""

from __future__ import annotations

from typing import Any

ENZYMES = ["CYP1A2", "CYP2B6", "CYP2C8", "CYP2C9", "CYP2C19", "CYP2D6", "CYP2E1", "CYP2J2",
            "CYP3A4", "CYP3A5", "UGT1A1"]  # fmt: skip
_E = {e.removeprefix("CYP"): e for e in ENZYMES} | {"UGT": "UGT1A1"}

# class: (indications, contraindications), then "name:salt:metabolised by:inhibits:induces"
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
PD_INTERACTIONS = [
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
SENSITIVE = {
    "warfarin", "simvastatin", "lovastatin", "atorvastatin", "midazolam", "triazolam",
    "tacrolimus", "ciclosporin", "sirolimus", "everolimus", "pimozide", "quinidine",
    "fentanyl", "oxycodone", "methadone", "colchicine", "ibrutinib", "theophylline",
    "tizanidine", "clozapine", "metoprolol", "codeine", "tamoxifen", "phenytoin",
    "clopidogrel", "apixaban", "rivaroxaban", "quetiapine", "lurasidone", "domperidone",
    "ticagrelor", "eletriptan", "sildenafil", "amiodarone", "irinotecan", "olanzapine",
    "saxagliptin", "dasatinib", "nilotinib", "budesonide", "salmeterol", "ranolazine",
}  # fmt: skip

INVESTIGATIONAL = [
    # id, maker, enzymes, inhibits, target indication, interacts with
    ("HLV-2291", "Helvion Pharma", ["CYP3A4"], ["CYP2C9"], "atrial fibrillation", "warfarin"),
    ("HLV-3107", "Helvion Pharma", ["CYP2D6"], [], "treatment-resistant depression", "Neurovia"),
    ("NRB-118", "Norrland Biologics", ["CYP3A4"], [], "severe asthma", "ketoconazole"),
    ("CST-640", "Castellan Therapeutics", ["CYP2C8"], ["CYP3A4"], "type 2 diabetes", "Lipidex"),
    ("MLS-907", "Meridian Life Sciences", ["CYP3A4", "CYP2C19"], [], "metastatic melanoma",
     "clarithromycin"),
    ("MLS-415", "Meridian Life Sciences", ["UGT1A1"], [], "ulcerative colitis", "ritonavir"),
]  # fmt: skip

EXCIPIENTS = [
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


def drug_table() -> list[dict[str, Any]]:
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
