"""The generated conformance resources in profiles/definitions: well-formed R4, consistent
canonical URLs, every reference resolvable, snapshots complete, and the build up to date."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from profiles.src import canon
from profiles.src import medcom_canon as mc
from tests.profiles import support

NAMES = sorted(support.definitions())
BASE = json.loads((support.REPO / "profiles" / "src" / "base" / "r4-base.json").read_text())
# canonical base -> the versions its resources may carry (MedCom's terminology CodeSystems keep
# their own versions inside terminology 2.0.1)
OWNERS = {
    canon.DK_CORE: {canon.DK_CORE_VERSION},
    canon.FF: {canon.FF_VERSION},
    canon.MEDCOM_TERMINOLOGY: {"1.8.1", "1.9.0", "2.0.1"},
    mc.CORE.base: {"4.0.0"},
    mc.MESSAGING.base: {"4.0.1"},
    mc.CARECOMMUNICATION.base: {"5.0.4"},
    mc.HOSPITALNOTIFICATION.base: {"3.0.2"},
    mc.ACKNOWLEDGEMENT.base: {"2.0.3"},
}
RESOURCE_PROFILES = {
    "dk-core-patient",
    "dk-core-practitioner",
    "dk-core-practitioner-role",
    "dk-core-organization",
    "dk-core-related-person",
    "dk-core-condition",
    "dk-core-encounter",
    "dk-core-person-servicerequest",
    "ff-careplan",
    "ff-careteam",
    "ff-medicationstatement",
    "ff-consent",
    # issue 13: MedCom
    "medcom-core-patient",
    "medcom-core-organization",
    "medcom-core-practitioner",
    "medcom-core-practitionerrole",
    "medcom-core-careteam",
    "medcom-core-encounter",
    "medcom-messaging-message",
    "medcom-messaging-messageHeader",
    "medcom-messaging-organization",
    "medcom-messaging-provenance",
    "medcom-careCommunication-message",
    "medcom-careCommunication-messageHeader",
    "medcom-careCommunication-communication",
    "medcom-careCommunication-provenance",
    "medcom-hospitalNotification-message",
    "medcom-hospitalNotification-messageHeader",
    "medcom-hospitalNotification-encounter",
    "medcom-messaging-acknowledgement",
    "medcom-messaging-acknowledgementHeader",
    "medcom-acknowledgement-operationoutcome",
}


def _resolves(url: str) -> bool:
    url = url.split("|", 1)[0]
    return url in support.by_url() or url in BASE["canonicals"]


def test_the_build_is_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/build_profiles.py", "--check"],
        cwd=support.REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_resource_profiles_of_the_issue_are_all_there() -> None:
    assert {sd["id"] for sd in support.resource_profiles()} == RESOURCE_PROFILES


@pytest.mark.parametrize("name", NAMES)
def test_file_is_named_for_its_resource_and_parses_as_r4(name: str) -> None:
    resource = support.definitions()[name]
    assert name == f"{resource['resourceType']}-{resource['id']}.json"
    module = importlib.import_module(f"fhir.resources.R4B.{resource['resourceType'].lower()}")
    getattr(module, resource["resourceType"]).model_validate(resource)


@pytest.mark.parametrize("name", NAMES)
def test_canonical_url_id_and_version_agree(name: str) -> None:
    resource = support.definitions()[name]
    owner, _, rest = resource["url"].rpartition(f"/{resource['resourceType']}/")
    assert rest == resource["id"]
    assert resource["version"] in OWNERS[owner]
    if owner == canon.FF:
        assert resource["id"].startswith("ff-")


def test_canonical_urls_are_unique() -> None:
    urls = [r["url"] for r in support.definitions().values()]
    assert len(urls) == len(set(urls))


@pytest.mark.parametrize("sd", support.structure_definitions(), ids=lambda sd: sd["id"])
def test_snapshot_contains_every_differential_element(sd: dict) -> None:
    snapshot = {e["id"]: e for e in sd["snapshot"]["element"]}
    assert len(snapshot) == len(sd["snapshot"]["element"]), "snapshot ids are unique"
    for diff in sd["differential"]["element"]:
        element = snapshot[diff["id"]]
        assert element["path"] == diff["path"]
        for key, value in diff.items():
            if key == "constraint":
                assert all(c in element["constraint"] for c in value)
            else:
                assert element[key] == value, (diff["id"], key)


@pytest.mark.parametrize("sd", support.structure_definitions(), ids=lambda sd: sd["id"])
def test_snapshot_keeps_the_base_elements_in_order(sd: dict) -> None:
    base = [e["id"] for e in BASE["structureDefinitions"][sd["type"]]]
    unsliced = [e["id"] for e in sd["snapshot"]["element"] if e["id"] in set(base)]
    assert unsliced == base


@pytest.mark.parametrize("sd", support.structure_definitions(), ids=lambda sd: sd["id"])
def test_every_binding_and_profile_resolves(sd: dict) -> None:
    assert _resolves(sd["baseDefinition"])
    for element in sd["differential"]["element"]:
        if "binding" in element:
            assert _resolves(element["binding"]["valueSet"]), element["id"]
        for type_ in element.get("type", []):
            for url in [*type_.get("targetProfile", []), *type_.get("profile", [])]:
                assert _resolves(url), (element["id"], url)


@pytest.mark.parametrize("sd", support.structure_definitions(), ids=lambda sd: sd["id"])
def test_invariants_have_unique_keys_human_text_and_compile(sd: dict) -> None:
    keys = []
    for element in sd["differential"]["element"]:
        for constraint in element.get("constraint", []):
            keys.append(constraint["key"])
            assert constraint["source"] == sd["url"]
            assert constraint["severity"] in ("error", "warning")
            assert len(constraint["human"]) > 20
            support.compiled(constraint["expression"])
    assert len(keys) == len(set(keys))


def test_value_sets_include_only_known_systems_and_value_sets() -> None:
    code_systems = {
        r["url"] for r in support.definitions().values() if r["resourceType"] == "CodeSystem"
    }
    for vs in (r for r in support.definitions().values() if r["resourceType"] == "ValueSet"):
        for include in vs["compose"]["include"]:
            for url in include.get("valueSet", []):
                assert _resolves(url), (vs["id"], url)
            system = include.get("system", "")
            ours = system.startswith((canon.DK_CORE, canon.FF, canon.MEDCOM_TERMINOLOGY))
            if ours:
                assert system in code_systems, (vs["id"], system)


@pytest.mark.parametrize(
    "vs",
    [
        r
        for r in support.definitions().values()
        if r["resourceType"] == "ValueSet" and "expansion" in r
    ],
    ids=lambda vs: vs["id"],
)
def test_expansion_is_exactly_the_compose(vs: dict) -> None:
    expected = []
    for include in vs["compose"]["include"]:
        if "concept" in include:
            expected += [(include["system"], c["code"]) for c in include["concept"]]
        else:
            cs = support.by_url()[include["system"]]
            expected += [(cs["url"], c["code"]) for c in cs["concept"]]
    contains = [(c["system"], c["code"]) for c in vs["expansion"]["contains"]]
    assert contains == expected
    assert vs["expansion"]["total"] == len(contains)


@pytest.mark.parametrize(
    "cs",
    [r for r in support.definitions().values() if r["resourceType"] == "CodeSystem"],
    ids=lambda cs: cs["id"],
)
def test_code_system_is_complete_and_codes_unique(cs: dict) -> None:
    codes = [c["code"] for c in cs["concept"]]
    assert cs["content"] == "complete"
    assert cs["count"] == len(codes) == len(set(codes))
    assert all(c["display"] for c in cs["concept"])


def test_municipality_codes_are_the_98_municipalities_and_christiansoe() -> None:
    cs = support.by_url()[canon.MUNICIPALITY]
    regions = {}
    for concept in cs["concept"]:
        assert len(concept["code"]) == 4 and concept["code"].isdigit()
        region = concept["property"][0]["valueCode"]
        regions[region] = regions.get(region, 0) + (concept["code"] != "0411")
    assert cs["count"] == 99
    assert regions == {"DK-81": 11, "DK-82": 19, "DK-83": 22, "DK-84": 29, "DK-85": 17}
    named = {c["code"]: c["display"] for c in cs["concept"]}
    assert named["0101"] == "København"
    assert named["0751"] == "Aarhus"
    assert named["0851"] == "Aalborg"
    assert named["0461"] == "Odense"


def test_contract_terminology_codes() -> None:
    def codes(url: str) -> list[str]:
        return [c["code"] for c in support.by_url()[url]["expansion"]["contains"]]

    assert codes(canon.dk_vs("dk-core-priority-codes")) == ["routine", "asap"]
    assert codes(canon.dk_vs("dk-core-RegionalSubDivisionCodes")) == [
        f"DK-8{n}" for n in range(1, 6)
    ]
    assert codes(canon.ff_vs("ff-medication-change-type")) == [
        "new",
        "changed",
        "paused",
        "discontinued",
        "unchanged",
    ]
    assert {
        "coordinator",
        "patient-responsible-doctor",
        "general-practitioner",
        "contact-person",
        "relative",
        "member",
    } == set(codes(canon.ff_vs("ff-careteam-role")))
    assert {
        "cross-sector-course",
        "child-youth-psychiatry",
        "severe-mental-illness",
        "discharge-follow-up",
        "iv-treatment-at-home",
        "preventive-sick-visit",
    } <= set(codes(canon.ff_vs("ff-careplan-category")))
    medcom = support.by_url()[
        "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-careCommunication-categoryCodes"
    ]
    assert len(medcom["concept"]) == 18
    assert {"carecoordination", "medicine", "nursing", "regarding-referral", "other"} <= {
        c["code"] for c in medcom["concept"]
    }


SEARCH_PARAMETERS = [
    r for r in support.definitions().values() if r["resourceType"] == "SearchParameter"
]


@pytest.mark.parametrize("sp", SEARCH_PARAMETERS, ids=lambda sp: sp["id"])
def test_search_parameter_is_new_and_compiles(sp: dict) -> None:
    table = json.loads(
        (
            support.REPO / "fhir_server" / "search" / "definitions" / "r4_search_parameters.json"
        ).read_text()
    )
    for base in sp["base"]:
        assert sp["code"] not in table["resources"].get(base, {}), (
            f"{base}?{sp['code']} exists in R4"
        )
        assert sp["expression"].startswith(f"{base}.")
    support.compiled(sp["expression"])
    assert sp["type"] in ("token", "reference", "string", "date", "uri")
    assert bool(sp.get("target")) == (sp["type"] == "reference")


def test_search_parameters_find_what_the_examples_hold() -> None:
    def values(sp_id: str, example: str) -> list:
        sp = support.by_url()[f"{canon.FF}/SearchParameter/{sp_id}"]
        return support.evaluate(support.example(example), sp["expression"])

    roles = values("ff-careteam-role", "ff-careteam-valid-shared-course.json")
    assert "coordinator" in [c["code"] for r in roles for c in r["coding"]]
    assert values(
        "ff-medicationstatement-change-type", "ff-medicationstatement-valid-discontinued.json"
    ) == ["discontinued"]
    municipality = values("ff-patient-municipality", "dk-core-patient-valid-cpr.json")
    assert [c["code"] for m in municipality for c in m["coding"]] == ["0751"]
    assert values(
        "ff-careplan-activity-status", "ff-careplan-valid-severe-mental-illness.json"
    ) == ["scheduled", "not-started", "in-progress"]


def test_docs_describe_every_profile_invariant_and_search_parameter() -> None:
    docs = (support.REPO / "docs" / "profiles.md").read_text(encoding="utf-8")
    for sd in support.structure_definitions():
        assert f"`{sd['id']}`" in docs or f"### {sd['id']} " in docs, sd["id"]
        for element in sd["differential"]["element"]:
            for constraint in element.get("constraint", []):
                assert f"`{constraint['key']}`" in docs, constraint["key"]
    for sp in SEARCH_PARAMETERS:
        assert f"| {sp['id']} |" in docs, sp["id"]
