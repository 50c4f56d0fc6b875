"""Canonical URLs, versions and identifier systems shared by every authored definition.

One place for them so a profile, its ValueSets, its examples and the docs cannot disagree about a
URL. The values are fixed by docs/profiles.md and the issue-4 contract.
"""

from __future__ import annotations

from profiles.danish import identifiers as dk_ids

FHIR_VERSION = "4.0.1"
# Publication date written into every generated resource (kept fixed so the build is
# reproducible; bump it together with the versions below).
DATE = "2026-11-23"
PUBLISHER = "Fælles forløb"
JURISDICTION = [
    {"coding": [{"system": "urn:iso:std:iso:3166", "code": "DK", "display": "Denmark"}]}
]

# --- dk-core (HL7 Denmark); written here from dk-core 3.7.0's published constraints ---------
DK_CORE = "http://hl7.dk/fhir/core"
DK_CORE_VERSION = "3.7.0"
# --- this project ---------------------------------------------------------------------------
FF = "http://faellesforloeb.dk/fhir"
FF_VERSION = "0.1.0"
# --- MedCom terminology (mirrored code lists) -----------------------------------------------
MEDCOM_TERMINOLOGY = "http://medcomfhir.dk/ig/terminology"

R4 = "http://hl7.org/fhir/StructureDefinition"


def dk_sd(id_: str) -> str:
    return f"{DK_CORE}/StructureDefinition/{id_}"


def dk_vs(id_: str) -> str:
    return f"{DK_CORE}/ValueSet/{id_}"


def dk_cs(id_: str) -> str:
    return f"{DK_CORE}/CodeSystem/{id_}"


def ff_sd(id_: str) -> str:
    return f"{FF}/StructureDefinition/{id_}"


def ff_vs(id_: str) -> str:
    return f"{FF}/ValueSet/{id_}"


def ff_cs(id_: str) -> str:
    return f"{FF}/CodeSystem/{id_}"


def r4(type_: str) -> str:
    return f"{R4}/{type_}"


# dk-core profiles
DK_PATIENT = dk_sd("dk-core-patient")
DK_PRACTITIONER = dk_sd("dk-core-practitioner")
DK_PRACTITIONER_ROLE = dk_sd("dk-core-practitioner-role")
DK_ORGANIZATION = dk_sd("dk-core-organization")
DK_RELATED_PERSON = dk_sd("dk-core-related-person")
DK_CONDITION = dk_sd("dk-core-condition")
DK_ENCOUNTER = dk_sd("dk-core-encounter")
DK_SERVICE_REQUEST = dk_sd("dk-core-person-servicerequest")

# this project's profiles
FF_CAREPLAN = ff_sd("ff-careplan")
FF_CARETEAM = ff_sd("ff-careteam")
FF_MEDICATION_STATEMENT = ff_sd("ff-medicationstatement")
FF_CONSENT = ff_sd("ff-consent")
FF_MEDICATION_CHANGE = ff_sd("ff-medication-change")

# Identifier systems (DOMAIN.md §4), stated once in profiles.danish.identifiers
CPR = dk_ids.CPR_SYSTEM
X_ECPR = dk_ids.X_ECPR_SYSTEM
D_ECPR = dk_ids.D_ECPR_SYSTEM
D_ECPR_REGIONAL = dk_ids.D_ECPR_REGIONAL_SYSTEMS
SOR = dk_ids.SOR_SYSTEM
YDERNUMMER = dk_ids.YDERNUMMER_SYSTEM
AUTHORISATION = dk_ids.AUTHORISATION_SYSTEM
CVR = dk_ids.CVR_SYSTEM
GLN = dk_ids.GLN_SYSTEM
GLN_HTTPS = dk_ids.GLN_HTTPS_SYSTEM
KOMBIT_ORG = dk_ids.KOMBIT_ORG_SYSTEM
MEDCOM_PRODUCER = f"{MEDCOM_TERMINOLOGY}/CodeSystem/MedComProducentID"
MUNICIPALITY = dk_ids.MUNICIPALITY_SYSTEM
REGION = dk_ids.REGION_SYSTEM

# Code systems used in codings
ATC = "http://www.whocc.no/atc"
# The Danish drug id ("Lægemiddel-ID", DrugId in the Danish Medicines Agency's price list file
# LMS01, the id FMK uses). No FHIR system is registered for it; see docs/profiles.md.
DK_DRUG_ID = "https://laegemiddelstyrelsen.dk/LMS01/DrugID"
SNOMED = "http://snomed.info/sct"
SKS_D = "urn:oid:1.2.208.176.2.4.12"
FSIII = "urn:oid:1.2.208.176.2.21"
FFB = "urn:oid:1.2.208.176.2.22"
ICPC2 = "urn:oid:1.2.208.176.2.31"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
V3_MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
V3_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
V3_ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
REQUEST_PRIORITY = "http://hl7.org/fhir/request-priority"
