"""The Danish identifier invariants as written in the generated profiles, run on identifier
values (valid and broken) with the contract's dkCprValid/dkCvrValid/dkGlnValid."""

from __future__ import annotations

import pytest

from profiles.src import canon
from tests.profiles import support


def _rule(profile: str, element_id: str, key: str) -> str:
    sd = support.by_url()[profile]
    element = next(e for e in sd["snapshot"]["element"] if e["id"] == element_id)
    return next(c["expression"] for c in element["constraint"] if c["key"] == key)


def _holds(resource_type: str, field: str, expression: str, identifier: dict) -> bool:
    resource = {"resourceType": resource_type, field: [identifier]}
    result = support.evaluate(resource, f"{resource_type}.{field}.select(({expression}))")
    assert result in ([True], [False]), "the rule is always true or false, never empty"
    return result == [True]


def _patient(key: str, system: str, value: str) -> bool:
    expression = _rule(canon.DK_PATIENT, "Patient.identifier", key)
    return _holds("Patient", "identifier", expression, {"system": system, "value": value})


def _organization(key: str, system: str, value: str) -> bool:
    expression = _rule(canon.DK_ORGANIZATION, "Organization.identifier", key)
    return _holds("Organization", "identifier", expression, {"system": system, "value": value})


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2004849997", True),  # 20 Apr 1984 (7th digit 9, YY 84 > 36 -> 1900s)
        ("0101000000", True),  # 1 Jan 1900 (7th digit 0)
        ("2902000000", False),  # 7th digit 0 -> 1900, which was not a leap year
        ("2902004000", True),  # 7th digit 4, YY 00 <= 36 -> 2000, a leap year
        ("2902015000", False),  # 7th digit 5, YY 01 -> 2001, not a leap year
        ("3112585000", True),  # 7th digit 5, YY 58 > 57 -> 1858
        ("3102849997", False),  # 31 February
        ("0113849997", False),  # month 13
        ("200484999", False),  # nine digits
        ("200484-9997", False),  # with the hyphen
        ("20048499AB", False),
    ],
)
def test_cpr_needs_ten_digits_with_a_real_birth_date(value: str, valid: bool) -> None:
    assert _patient("dk-core-cpr-1", canon.CPR, value) is valid


def test_cpr_rule_ignores_other_identifier_systems() -> None:
    assert _patient("dk-core-cpr-1", "http://rn.dk", "not-a-cpr")
    assert _patient("dk-core-cpr-1", canon.X_ECPR, "1504851AB3")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("1504851AB3", True),
        ("0703921VJ4", True),
        ("1504857ZZ0", True),
        ("1504855AB3", False),
        ("3104851AB3", False),
        ("1504851ab3", False),
        ("1504851AB", False),
    ],
)
def test_x_ecpr_format(value: str, valid: bool) -> None:
    assert _patient("dk-core-x-ecpr-1", canon.X_ECPR, value) is valid


@pytest.mark.parametrize("system", [canon.D_ECPR, *canon.D_ECPR_REGIONAL])
@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("0811620XY1", True),
        ("1206550VK9", True),
        ("0811626AB0", True),
        ("0811621XY1", False),
        ("0811627XY1", False),
    ],
)
def test_d_ecpr_format_under_every_d_ecpr_system(system: str, value: str, valid: bool) -> None:
    assert _patient("dk-core-d-ecpr-1", system, value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("12345678901", True),
        ("487341000016005", True),
        ("1234567890", False),
        ("1234567890A", False),
    ],
)
def test_sor_has_at_least_eleven_digits(value: str, valid: bool) -> None:
    assert _organization("dk-core-sor-1", canon.SOR, value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("29190623", True),
        ("29189919", True),
        ("12345674", True),
        ("29190624", False),
        ("2919062", False),
        ("291906230", False),
    ],
)
def test_cvr_modulus_11(value: str, valid: bool) -> None:
    assert _organization("dk-core-cvr-1", canon.CVR, value) is valid


@pytest.mark.parametrize("system", [canon.GLN, canon.GLN_HTTPS])
@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("5790000123452", True),
        ("5798002472264", True),
        ("5790000123453", False),
        ("579000012345", False),
        ("57900001234520", False),
    ],
)
def test_gln_check_digit_in_both_uri_forms(system: str, value: str, valid: bool) -> None:
    assert _organization("dk-core-gln-1", system, value) is valid


@pytest.mark.parametrize(
    ("key", "system", "value", "valid"),
    [
        ("dk-core-ydernummer-1", canon.YDERNUMMER, "077410", True),
        ("dk-core-ydernummer-1", canon.YDERNUMMER, "7741O", False),
        ("dk-core-municipality-1", canon.MUNICIPALITY, "0751", True),
        ("dk-core-municipality-1", canon.MUNICIPALITY, "751", False),
        ("dk-core-region-1", canon.REGION, "DK-84", True),
        ("dk-core-region-1", canon.REGION, "DK-80", False),
        (
            "dk-core-kombit-1",
            canon.KOMBIT_ORG,
            "urn:uuid:a107fd1e-9f35-422c-9d1e-add097bbf4a6",
            True,
        ),
        ("dk-core-kombit-1", canon.KOMBIT_ORG, "a107fd1e-9f35-422c-9d1e-add097bbf4a6", False),
    ],
)
def test_other_organization_identifiers(key: str, system: str, value: str, valid: bool) -> None:
    assert _organization(key, system, value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("0C8KL", True),
        ("005ML", True),
        ("CBDJ6", True),
        ("yyyyy", True),
        ("AE1OU", False),
        ("0C8K", False),
        ("0C8KLX", False),
    ],
)
def test_authorisation_id_is_five_digits_or_consonants(value: str, valid: bool) -> None:
    expression = _rule(canon.DK_PRACTITIONER, "Practitioner.identifier", "dk-core-authorization-2")
    identifier = {"system": canon.AUTHORISATION, "value": value}
    assert _holds("Practitioner", "identifier", expression, identifier) is valid
    qualification = _rule(
        canon.DK_PRACTITIONER, "Practitioner.qualification", "dk-core-authorization-1"
    )
    assert (
        _holds("Practitioner", "qualification", qualification, {"identifier": [identifier]})
        is valid
    )


def test_sor_rule_on_a_general_practitioner_reference() -> None:
    expression = _rule(canon.DK_PATIENT, "Patient.generalPractitioner", "dk-core-sor-1")
    good = {"identifier": {"system": canon.SOR, "value": "487341000016005"}}
    bad = {"identifier": {"system": canon.SOR, "value": "4873410"}}
    assert _holds("Patient", "generalPractitioner", expression, good)
    assert not _holds("Patient", "generalPractitioner", expression, bad)
    assert _holds("Patient", "generalPractitioner", expression, {"reference": "Organization/x"})
