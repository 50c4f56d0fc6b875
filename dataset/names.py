"""Common Danish first names and surnames, for people who read like Danes in the data set."""

from __future__ import annotations

import random
from dataclasses import dataclass

FEMALE = (
    "Anne", "Kirsten", "Mette", "Hanne", "Helle", "Anna", "Susanne", "Lene", "Maria", "Marianne",
    "Lone", "Camilla", "Pia", "Louise", "Charlotte", "Tina", "Gitte", "Ida", "Emma", "Sofie",
    "Freja", "Clara", "Ella", "Karen", "Inge", "Birthe", "Else", "Ruth", "Aase", "Signe",
    "Line", "Maja", "Astrid", "Frida", "Nanna", "Sara", "Julie", "Laura", "Cecilie", "Ingrid",
)  # fmt: skip

MALE = (
    "Peter", "Jens", "Michael", "Lars", "Henrik", "Thomas", "Søren", "Jan", "Niels", "Martin",
    "Anders", "Morten", "Jesper", "Mads", "Rasmus", "Per", "Hans", "Jørgen", "Ole", "Christian",
    "Erik", "Kim", "Mikkel", "Frederik", "William", "Noah", "Oscar", "Lucas", "Emil", "Victor",
    "Magnus", "Karl", "Aksel", "Valdemar", "Bent", "Poul", "Knud", "Svend", "Finn", "Torben",
)  # fmt: skip

FAMILY = (
    "Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen",
    "Rasmussen", "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen",
    "Christiansen", "Poulsen", "Johansen", "Møller", "Mortensen", "Knudsen", "Jakobsen",
    "Mikkelsen", "Frederiksen", "Laursen", "Henriksen", "Lund", "Holm", "Schmidt", "Eriksen",
    "Kristiansen", "Simonsen", "Clausen", "Svendsen", "Andreasen", "Østergaard", "Dahl",
    "Bach", "Kjær", "Lauridsen", "Vestergaard", "Brandt", "Mathiesen", "Ærenlund", "Skovgaard",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Name:
    given: str
    family: str
    female: bool

    @property
    def text(self) -> str:
        return f"{self.given} {self.family}"

    def human_name(self) -> dict[str, object]:
        """An official HumanName (dk-core's name slice: use official, family present)."""
        return {"use": "official", "text": self.text, "family": self.family, "given": [self.given]}


def random_name(rng: random.Random, female: bool | None = None, family: str | None = None) -> Name:
    if female is None:
        female = rng.random() < 0.5
    given = rng.choice(FEMALE if female else MALE)
    return Name(given, family or rng.choice(FAMILY), female)
