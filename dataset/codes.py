"""Code systems and the clinical vocabulary the scenarios draw from (diagnoses, drugs, categories).

Diagnoses are SKS D codes (the Danish ICD-10 edition, dk-core's `SKS-D` coding slice); drugs are
ATC codes, as on the national medication card (FMK). Codes of this project's own code systems
(ff-*) carry no display: the CodeSystems define it, the data set's Danish wording goes in `text`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataset.build import Json, coding, concept

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
NPU = "http://npu-terminology.org"
ATC = "http://www.whocc.no/atc"
SKS_D = "urn:oid:1.2.208.176.2.4.12"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
DK_RELATION = "http://hl7.dk/fhir/core/CodeSystem/dk-relatedperson-relationshipcodes"
PROFESSION = "http://hl7.dk/fhir/core/CodeSystem/DkCoreProfessionGroupCodes"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DISCHARGE_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
MEDCOM_CATEGORY = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-careCommunication-categoryCodes"
)
FF_CODES = "http://faellesforloeb.dk/fhir/CodeSystem/"
FF_CAREPLAN_CATEGORY = FF_CODES + "ff-careplan-category"
FF_CARETEAM_ROLE = FF_CODES + "ff-careteam-role"
FF_CONSENT_POLICY = FF_CODES + "ff-consent-policy"
MEDICATION_CHANGE = "http://faellesforloeb.dk/fhir/StructureDefinition/ff-medication-change"

PSYCHIATRY = coding(ACT_CODE, "PSY")
"""The security label of psychiatric data (HL7 v3 ActCode PSY, "psychiatry disorder information
sensitivity"; IHE PCF's label set): the record of psychiatry — diagnoses, contacts, measurements,
medication —, not the shared cross-sector plan, which every party of the course works from."""

# Danish SNOMED CT ServiceRequest categories (dk-core's examples)
HOME_NURSING = coding(SCT, "658161000005107", "hjemmesygepleje")
HOME_CARE = coding(SCT, "658171000005102", "hjemmepleje")
REHABILITATION = coding(SCT, "658141000005108", "genoptræning efter sygehusophold")
PREVENTION = coding(SCT, "658151000005105", "sundhedsfremme og forebyggelse")
REFERRAL = coding(SCT, "3457005", "henvisning")

CARETEAM_ROLE_TEXT = {
    "coordinator": "Tovholder",
    "patient-responsible-doctor": "Behandlingsansvarlig læge",
    "general-practitioner": "Egen læge",
    "contact-person": "Kontaktperson",
    "relative": "Pårørende",
    "member": "Deltager",
}

CAREPLAN_CATEGORY_TEXT = {
    "cross-sector-course": "Tværsektorielt forløb",
    "child-youth-psychiatry": "Børne- og ungdomspsykiatri",
    "severe-mental-illness": "Svær psykisk sygdom",
    "discharge-follow-up": "Opfølgning efter udskrivelse",
    "iv-treatment-at-home": "Intravenøs behandling i eget hjem",
    "preventive-sick-visit": "Forebyggende sygebesøg",
}


def careteam_role(code: str) -> Json:
    return concept(CARETEAM_ROLE_TEXT[code], coding(FF_CARETEAM_ROLE, code))


def careplan_category(code: str) -> Json:
    return concept(CAREPLAN_CATEGORY_TEXT[code], coding(FF_CAREPLAN_CATEGORY, code))


def medcom_category(code: str, text: str) -> Json:
    return concept(text, coding(MEDCOM_CATEGORY, code))


@dataclass(frozen=True, slots=True)
class Diagnosis:
    code: str
    text: str

    def concept(self) -> Json:
        return concept(self.text, coding(SKS_D, self.code, self.text))


@dataclass(frozen=True, slots=True)
class Drug:
    atc: str
    name: str
    dosages: tuple[str, ...]
    """Dosage texts as they read on the medication card (first one is the usual)."""

    def concept(self) -> Json:
        return concept(self.name, coding(ATC, self.atc, self.name))


def _diagnoses(*rows: tuple[str, str]) -> tuple[Diagnosis, ...]:
    return tuple(Diagnosis(code, text) for code, text in rows)


CHRONIC = _diagnoses(
    ("DI500", "Hjerteinsufficiens"),
    ("DJ449", "Kronisk obstruktiv lungesygdom"),
    ("DE119", "Type 2-diabetes"),
    ("DI109", "Forhøjet blodtryk"),
    ("DM819", "Knogleskørhed"),
)
CHILD_PSYCHIATRY = _diagnoses(
    ("DF900", "Forstyrrelse af aktivitet og opmærksomhed (ADHD)"),
    ("DF840", "Infantil autisme"),
    ("DF412", "Blandet angst og depression"),
    ("DF500", "Anorexia nervosa"),
)
SEVERE_MENTAL_ILLNESS = _diagnoses(
    ("DF209", "Skizofreni"),
    ("DF312", "Bipolar affektiv sindslidelse, mani med psykotiske symptomer"),
    ("DF250", "Skizoaffektiv psykose, manisk type"),
)
ADMISSION = _diagnoses(
    ("DJ189", "Lungebetændelse"),
    ("DS720", "Brud på lårbenshals"),
    ("DN390", "Urinvejsinfektion"),
    ("DI639", "Blodprop i hjernen"),
)
IV_INFECTION = _diagnoses(
    ("DM869", "Knoglemarvsbetændelse"),
    ("DI330", "Akut bakteriel endokarditis"),
    ("DL031", "Cellulitis i ekstremitet"),
    ("DN109", "Akut nyrebækkenbetændelse"),
)
ACUTE = _diagnoses(
    ("DJ441", "KOL med akut forværring"),
    ("DN390", "Urinvejsinfektion"),
    ("DE869", "Væskemangel"),
    ("DR418", "Akut konfusion"),
)
DEMENTIA = _diagnoses(
    ("DF009", "Demens ved Alzheimers sygdom"),
    ("DF019", "Vaskulær demens"),
)

MAINTENANCE = (
    Drug("C03CA01", "Furosemid", ("40 mg 1 gang dagligt", "40 mg morgen og 20 mg middag")),
    Drug("A10BA02", "Metformin", ("500 mg 2 gange dagligt", "1 g 2 gange dagligt")),
    Drug("C08CA01", "Amlodipin", ("5 mg 1 gang dagligt", "10 mg 1 gang dagligt")),
    Drug("C10AA05", "Atorvastatin", ("40 mg 1 gang dagligt til natten",)),
    Drug("B01AC06", "Acetylsalicylsyre", ("75 mg 1 gang dagligt",)),
    Drug("C07AB07", "Bisoprolol", ("2,5 mg 1 gang dagligt", "5 mg 1 gang dagligt")),
    Drug("C09AA05", "Ramipril", ("5 mg 1 gang dagligt", "2,5 mg 1 gang dagligt")),
    Drug("B01AF02", "Apixaban", ("5 mg 2 gange dagligt",)),
    Drug("R03BB04", "Tiotropium", ("2 pust 1 gang dagligt",)),
    Drug("M05BA04", "Alendronsyre", ("70 mg 1 gang ugentligt",)),
    Drug("N02BE01", "Paracetamol", ("1 g 3 gange dagligt", "1 g efter behov, højst 4 gange")),
)
PAINKILLER_TO_STOP = Drug("M01AE01", "Ibuprofen", ("400 mg 3 gange dagligt",))
SLEEPING_PILL = Drug("N05CF01", "Zopiclon", ("7,5 mg til natten efter behov",))
ORAL_ANTIBIOTICS = (
    Drug("J01CA04", "Amoxicillin", ("750 mg 3 gange dagligt i 7 dage",)),
    Drug("J01CE02", "Phenoxymethylpenicillin", ("1 mio. IE 4 gange dagligt i 7 dage",)),
)
IV_ANTIBIOTICS = (
    Drug("J01CR05", "Piperacillin og tazobactam", ("4 g/0,5 g i.v. 3 gange dagligt",)),
    Drug("J01DC02", "Cefuroxim", ("1,5 g i.v. 3 gange dagligt",)),
    Drug("J01CF05", "Dicloxacillin", ("2 g i.v. 4 gange dagligt",)),
)
CHILD_PSYCHIATRIC_DRUGS = (
    Drug("N06BA04", "Methylphenidat", ("18 mg om morgenen", "36 mg om morgenen")),
    Drug("N05CH01", "Melatonin", ("3 mg til natten",)),
    Drug("N06AB06", "Sertralin", ("50 mg 1 gang dagligt",)),
)
ANTIPSYCHOTICS = (
    Drug("N05AX12", "Aripiprazol", ("15 mg 1 gang dagligt", "10 mg 1 gang dagligt")),
    Drug("N05AH03", "Olanzapin", ("10 mg til natten",)),
    Drug("N05AH04", "Quetiapin", ("300 mg til natten",)),
    Drug("N05AN01", "Lithium", ("12 mmol 2 gange dagligt",)),
)
DEMENTIA_DRUGS = (
    Drug("N06DA02", "Donepezil", ("10 mg til natten", "5 mg til natten")),
    Drug("N06DX01", "Memantin", ("20 mg 1 gang dagligt",)),
)
