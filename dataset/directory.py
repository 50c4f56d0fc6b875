"""Organizations and practitioners of all three sectors: region, municipality, general practice.

A `DirectoryBuilder` emits the Organization, Practitioner and PractitionerRole resources of a
region (hospital wards, adult psychiatry's outreach team, child and youth psychiatry — BUA), a
municipality (home nursing, acute function, PPR, family services, social psychiatry, job centre)
and GP clinics, and returns handles (`Unit`, `Staff`) the scenarios reference. Health units carry
SOR and GLN ids; GP clinics also a ydernummer; the municipality's non-health units have no SOR id
and are identified by their FK-ORG (KOMBIT) id and the municipality's CVR number.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from dataset import build as b
from dataset import identifiers as ids
from dataset.build import Json
from dataset.codes import PROFESSION, ROLE_CODE
from dataset.geography import MUNICIPALITIES, REGIONS, Municipality, Region
from dataset.names import Name, random_name

_KOMBIT_NAMESPACE = uuid.UUID("6f1f3c52-7d0e-4a43-9d55-2f0c2b9a6e11")

# kind → (profession code and display in dk-core's profession groups, or None: no authorisation)
PROFESSIONS: dict[str, tuple[str, str] | None] = {
    "doctor": ("7170", "Læge"),
    "nurse": ("5166", "Sygeplejerske"),
    "sosu": ("5152", "Social- og sundhedsassistent"),
    "psychologist": None,
    "caseworker": None,
    "support-worker": None,
}


@dataclass(frozen=True, slots=True)
class Staff:
    practitioner_id: str
    role_id: str
    name: Name
    title: str
    kind: str
    authorisation: str | None

    @property
    def display(self) -> str:
        return f"{self.name.text} ({self.title})"

    def ref(self) -> Json:
        return b.ref("PractitionerRole", self.role_id, self.display)

    def practitioner_ref(self) -> Json:
        return b.ref("Practitioner", self.practitioner_id, self.name.text)


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    name: str
    staff: tuple[Staff, ...] = ()
    sor: str | None = None

    def ref(self) -> Json:
        return b.ref("Organization", self.id, self.name)

    def sor_ref(self) -> Json:
        """A reference that also names the unit by its SOR id (dk-core's referencedSORUnit)."""
        out = self.ref()
        if self.sor:
            out["identifier"] = b.sor(self.sor)
        return out

    def of(self, kind: str, rng: random.Random | None = None) -> Staff:
        """A staff member of this kind: the first, or one drawn with ``rng``."""
        found = [s for s in self.staff if s.kind == kind]
        if not found:
            raise LookupError(f"{self.id} has no {kind}")
        return rng.choice(found) if rng else found[0]

    def titled(self, title: str) -> Staff:
        return next(s for s in self.staff if s.title == title)


@dataclass(frozen=True, slots=True)
class RegionUnits:
    region: Region
    org: Unit
    hospital: Unit
    medical: Unit
    infection: Unit
    orthopaedic: Unit
    memory_clinic: Unit
    psychiatry: Unit
    outreach: Unit
    bua: Unit


@dataclass(frozen=True, slots=True)
class MunicipalUnits:
    municipality: Municipality
    org: Unit
    home_nursing: Unit
    acute: Unit
    ppr: Unit
    family: Unit
    social_psychiatry: Unit
    job_centre: Unit


StaffSpec = tuple[tuple[str, str], ...]
"""(kind, title) of each member of a unit."""


class DirectoryBuilder:
    """Builds units with unique identifiers; ``out`` collects the resources in dependency order
    (a parent Organization before its parts, Practitioner before PractitionerRole)."""

    def __init__(self, prefix: str, rng: random.Random, numbering: int) -> None:
        self.prefix = prefix
        self.rng = rng
        self.out: list[Json] = []
        self._n = numbering  # the start of this directory's SOR, GLN, CVR and ydernummer ranges
        self._authorisations: set[str] = set()

    def _next(self) -> int:
        self._n += 1
        return self._n

    def _phone(self) -> Json:
        return {"system": "phone", "value": f"{self.rng.randrange(20000000, 99999999)}"}

    def _address(self, m: Municipality) -> Json:
        line = f"{self.rng.choice(_STREET_NAMES)} {self.rng.randrange(1, 120)}"
        return {"line": [line], "city": m.town, "postalCode": m.postal_code, "country": "DK"}

    def unit(
        self,
        local: str,
        name: str,
        identifiers: list[Json],
        staff: StaffSpec = (),
        part_of: Unit | None = None,
        municipality: Municipality | None = None,
        kind: str = "Sundhedsfaglig enhed",
        kind_code: Json | None = None,
    ) -> Unit:
        uid = f"{self.prefix}-{local}"
        self.out.append(
            b.resource(
                "Organization",
                uid,
                (name, kind),
                identifier=identifiers,
                active=True,
                type=[b.concept(kind, kind_code) if kind_code else b.concept(kind)],
                name=name,
                telecom=[self._phone()],
                address=[self._address(municipality)] if municipality else None,
                partOf=part_of.ref() if part_of else None,
            )
        )
        counts: dict[str, int] = {}
        members = []
        for spec in staff:  # ids number each kind of staff: doctor-1, doctor-2, nurse-1, …
            counts[spec[0]] = counts.get(spec[0], 0) + 1
            members.append(self._staff(uid, name, spec, counts[spec[0]]))
        sor = next((i["value"] for i in identifiers if i["system"] == ids.SOR_SYSTEM), None)
        return Unit(uid, name, tuple(members), sor)

    def _staff(self, unit_id: str, unit_name: str, spec: tuple[str, str], n: int) -> Staff:
        kind, title = spec
        name = random_name(self.rng)
        profession = PROFESSIONS[kind]
        authorisation = self._authorisation() if profession else None
        pid = f"{unit_id}-{kind}-{n}"
        qualification = (
            {
                "identifier": [b.authorisation(authorisation)],
                "code": b.concept(profession[1], b.coding(PROFESSION, *profession)),
            }
            if profession and authorisation
            else {"code": b.concept(title)}
        )
        self.out.append(
            b.resource(
                "Practitioner",
                pid,
                f"{name.text}, {title}",
                active=True,
                name=[name.human_name()],
                gender="female" if name.female else "male",
                qualification=[qualification],
            )
        )
        staff = Staff(pid, f"{pid}-role", name, title, kind, authorisation)
        self.out.append(
            b.resource(
                "PractitionerRole",
                staff.role_id,
                f"{staff.display}, {unit_name}",
                active=True,
                practitioner=staff.practitioner_ref(),
                organization=b.ref("Organization", unit_id, unit_name),
                code=[b.concept(title)],
            )
        )
        return staff

    def _authorisation(self) -> str:
        while True:
            value = ids.make_authorisation_id(self.rng)
            if value not in self._authorisations:
                self._authorisations.add(value)
                return value

    def health_ids(self) -> list[Json]:
        n = self._next()
        return [b.sor(ids.make_sor(n)), b.gln(ids.make_gln(n))]

    def region(self, code: str) -> RegionUnits:
        r = REGIONS[code]
        org = self.unit(
            r.slug, r.name, [b.cvr(ids.make_cvr(self._next())), b.region(code)], kind="Region"
        )
        hospital = self.unit(f"{r.slug}-hospital", r.hospital, self.health_ids(), part_of=org)
        psychiatry = self.unit(
            f"{r.slug}-psychiatry", f"Psykiatrien, {r.name}", self.health_ids(), part_of=org,
            kind_code=_PSYCHIATRIC_HOSPITAL,
        )  # fmt: skip

        def ward(
            key: str, name: str, staff: StaffSpec, parent: Unit, code: Json | None = None
        ) -> Unit:
            full = f"{name}, {parent.name}"
            return self.unit(
                f"{r.slug}-{key}", full, self.health_ids(), staff, part_of=parent, kind_code=code
            )

        return RegionUnits(
            region=r,
            org=org,
            hospital=hospital,
            medical=ward("medical-ward", "Medicinsk Afdeling", _WARD, hospital),
            infection=ward("infection-ward", "Infektionsmedicinsk Afdeling", _WARD, hospital),
            orthopaedic=ward("orthopaedic-ward", "Ortopædkirurgisk Afdeling", _WARD, hospital),
            memory_clinic=ward("memory-clinic", "Hukommelsesklinikken", _MEMORY, hospital),
            psychiatry=psychiatry,
            outreach=ward(
                "outreach", "Opsøgende Psykoseteam", _OUTREACH, psychiatry, _PSYCHIATRIC_UNIT
            ),
            bua=ward(
                "bua", "Børne- og Ungdomspsykiatrisk Afdeling", _BUA, psychiatry, _CHILD_PSYCHIATRY
            ),
        )

    def municipality(self, code: str) -> MunicipalUnits:
        m = MUNICIPALITIES[code]
        cvr = b.cvr(ids.make_cvr(self._next()))
        org = self.unit(
            m.slug, f"{m.name} Kommune", [cvr, b.municipality(code)], (), None, m, "Kommune"
        )

        def health(key: str, name: str, staff: StaffSpec) -> Unit:
            full = f"{name}, {m.name} Kommune"
            return self.unit(f"{m.slug}-{key}", full, self.health_ids(), staff, org, m)

        def social(key: str, name: str, staff: StaffSpec) -> Unit:
            uid = f"{self.prefix}-{m.slug}-{key}"
            kombit = f"urn:uuid:{uuid.uuid5(_KOMBIT_NAMESPACE, uid)}"
            identifiers = [b.kombit(kombit), cvr]
            full = f"{name}, {m.name} Kommune"
            return self.unit(f"{m.slug}-{key}", full, identifiers, staff, org, m, "Socialområdet")

        return MunicipalUnits(
            municipality=m,
            org=org,
            home_nursing=health("home-nursing", "Hjemmesygeplejen", _HOME_NURSING),
            acute=health("acute-function", "Akutfunktionen", _ACUTE),
            ppr=social("ppr", "Pædagogisk Psykologisk Rådgivning (PPR)", _PPR),
            family=social("family-services", "Familieafdelingen", _FAMILY),
            social_psychiatry=social("social-psychiatry", "Socialpsykiatrien", _SOCIAL_PSYCH),
            job_centre=social("job-centre", "Jobcenter", _JOB_CENTRE),
        )

    def gp_clinic(self, code: str, n: int, doctors: int) -> Unit:
        m = MUNICIPALITIES[code]
        k = self._next()
        identifiers = [
            b.sor(ids.make_sor(k)),
            b.ydernummer(ids.make_ydernummer(k)),
            b.gln(ids.make_gln(k)),
        ]
        staff = (("doctor", "Praktiserende læge"),) * doctors + (("nurse", "Praksissygeplejerske"),)
        name = f"Lægerne {self.rng.choice(_STREET_NAMES)}, {m.town}"
        return self.unit(f"{m.slug}-gp-{n}", name, identifiers, staff, None, m, "Almen praksis")


_PSYCHIATRIC_HOSPITAL = b.coding(ROLE_CODE, "PSYCHF")
_PSYCHIATRIC_UNIT = b.coding(ROLE_CODE, "PHU")
_CHILD_PSYCHIATRY = b.coding(ROLE_CODE, "CAPC")
"""A psychiatric unit's ``Organization.type`` (HL7 v3 RoleCode, ServiceDeliveryLocationRoleType:
psychiatric care facility, psychiatric hospital unit, child and adolescent psychiatry clinic):
what tells region psychiatry from the rest of the region (auth/identity.py `sector_of`)."""

_STREET_NAMES = ("Algade", "Torvet", "Bredgade", "Stationsvej", "Vestergade", "Søndergade")
_WARD: StaffSpec = (("doctor", "Overlæge"), ("doctor", "Afdelingslæge"), ("nurse", "Sygeplejerske"))
_MEMORY: StaffSpec = (("doctor", "Overlæge"), ("nurse", "Demenssygeplejerske"))
_OUTREACH: StaffSpec = (("doctor", "Overlæge, psykiater"), ("nurse", "Psykiatrisk sygeplejerske"))
_BUA: StaffSpec = (
    ("doctor", "Overlæge, børne- og ungdomspsykiater"),
    ("nurse", "Kontaktsygeplejerske"),
    ("psychologist", "Psykolog"),
)
_HOME_NURSING: StaffSpec = (
    ("nurse", "Hjemmesygeplejerske"),
    ("nurse", "Demenskoordinator"),
    ("sosu", "Social- og sundhedsassistent"),
)
_ACUTE: StaffSpec = (("nurse", "Akutsygeplejerske"), ("nurse", "Akutsygeplejerske"))
_PPR: StaffSpec = (("psychologist", "Skolepsykolog"),)
_FAMILY: StaffSpec = (("caseworker", "Socialrådgiver"),)
_SOCIAL_PSYCH: StaffSpec = (("support-worker", "Bostøttemedarbejder"),)
_JOB_CENTRE: StaffSpec = (("caseworker", "Jobkonsulent"),)
