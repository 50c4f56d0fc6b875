"""What a scenario builds in: the citizen's region, municipality and GP, ids, dates, randomness.

Every date is derived from a fixed data set date (`DATASET_DATE`) and the scene's random source,
never from the clock, so the same seed gives byte-identical data. A demo scene passes a fixed
random source, a synthetic one a source seeded from the generator's seed and the patient number.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from dataset import identifiers as ids
from dataset.build import Json
from dataset.directory import MunicipalUnits, RegionUnits, Unit
from dataset.names import Name, random_name

DATASET_DATE = date(2026, 11, 16)
"""'Today' in the data set: plans run around it, ages are counted at it."""


@dataclass(frozen=True, slots=True)
class Person:
    name: Name
    birth: date
    cpr: str

    @property
    def gender(self) -> str:
        return "female" if self.name.female else "male"


@dataclass(frozen=True, slots=True)
class Home:
    """Where a citizen lives: their region, municipality and GP clinic."""

    region: RegionUnits
    municipality: MunicipalUnits
    gp: Unit


class CprRegistry:
    """Hands out CPR numbers no other person in the data set has."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def claim(self, cpr: str) -> str:
        if cpr in self._used:
            raise ValueError("CPR number already used in this data set")
        self._used.add(cpr)
        return cpr

    def new(self, birth: date, female: bool, rng: random.Random) -> str:
        while True:
            cpr = ids.make_cpr(birth, female, rng)
            if cpr not in self._used:
                self._used.add(cpr)
                return cpr


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def age_at(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass
class Scene:
    prefix: str
    rng: random.Random
    home: Home
    cprs: CprRegistry
    anchor: date = DATASET_DATE
    complete: bool = False
    """Build every optional part (the demo shows all of each scenario)."""
    out: list[Json] = field(default_factory=list)

    def id(self, local: str) -> str:
        return f"{self.prefix}-{local}"

    def add(self, resource: Json) -> Json:
        self.out.append(resource)
        return resource

    def day(self, offset: int) -> str:
        """The date ``offset`` days from the scene's 'now' (negative: in the past)."""
        return (self.anchor + timedelta(days=offset)).isoformat()

    def at(self, offset: int, hour: int, minute: int = 0) -> str:
        return f"{self.day(offset)}T{hour:02d}:{minute:02d}:00+01:00"

    def chance(self, p: float) -> bool:
        """Whether to build an optional part (always, in a complete scene)."""
        return self.rng.random() < p or self.complete

    def person(
        self, ages: tuple[int, int], female: bool | None = None, family: str | None = None
    ) -> Person:
        """A new person aged within ``ages`` (inclusive) at the scene's 'now'."""
        age = self.rng.randint(*ages)
        first = years_before(self.anchor, age + 1) + timedelta(days=1)
        last = years_before(self.anchor, age)
        birth = first + timedelta(days=self.rng.randrange((last - first).days + 1))
        name = random_name(self.rng, female, family)
        return Person(name, birth, self.cprs.new(birth, name.female, self.rng))


Build = Callable[[Scene, Person], None]


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    title: str
    ages: tuple[int, int]
    """The citizen's age range at the data set date."""
    patient: str
    """The local id of the scenario's Patient (``<prefix>-<patient>``)."""
    build: Build
