"""The 98 Danish municipalities (code, name, region, a main postal town) and the five regions.

Municipality codes are those of dk-core's `dk-core-municipality-codes` CodeSystem; region codes are
ISO 3166-2 (DK-81 … DK-85). Christiansø (0411) is in the code list but belongs to no municipality
or region, so it is valid as a code and never generated.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    slug: str
    hospital: str
    """The name of the region's (university) hospital used in the data set."""


@dataclass(frozen=True, slots=True)
class Municipality:
    code: str
    name: str
    region: str
    postal_code: str
    town: str

    @property
    def slug(self) -> str:
        table = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", " ": "-"})
        return self.name.lower().translate(table)


REGIONS: dict[str, Region] = {
    r.code: r
    for r in (
        Region("DK-81", "Region Nordjylland", "nord", "Aalborg Universitetshospital"),
        Region("DK-82", "Region Midtjylland", "midt", "Aarhus Universitetshospital"),
        Region("DK-83", "Region Syddanmark", "syd", "Odense Universitetshospital"),
        Region("DK-84", "Region Hovedstaden", "hovedstaden", "Rigshospitalet"),
        Region("DK-85", "Region Sjælland", "sjaelland", "Sjællands Universitetshospital"),
    )
}

_ROWS = """
0101 København DK-84 2200 København N
0147 Frederiksberg DK-84 2000 Frederiksberg
0151 Ballerup DK-84 2750 Ballerup
0153 Brøndby DK-84 2605 Brøndby
0155 Dragør DK-84 2791 Dragør
0157 Gentofte DK-84 2820 Gentofte
0159 Gladsaxe DK-84 2860 Søborg
0161 Glostrup DK-84 2600 Glostrup
0163 Herlev DK-84 2730 Herlev
0165 Albertslund DK-84 2620 Albertslund
0167 Hvidovre DK-84 2650 Hvidovre
0169 Høje-Taastrup DK-84 2630 Taastrup
0173 Lyngby-Taarbæk DK-84 2800 Kongens Lyngby
0175 Rødovre DK-84 2610 Rødovre
0183 Ishøj DK-84 2635 Ishøj
0185 Tårnby DK-84 2770 Kastrup
0187 Vallensbæk DK-84 2625 Vallensbæk
0190 Furesø DK-84 3520 Farum
0201 Allerød DK-84 3450 Allerød
0210 Fredensborg DK-84 3480 Fredensborg
0217 Helsingør DK-84 3000 Helsingør
0219 Hillerød DK-84 3400 Hillerød
0223 Hørsholm DK-84 2970 Hørsholm
0230 Rudersdal DK-84 2840 Holte
0240 Egedal DK-84 3660 Stenløse
0250 Frederikssund DK-84 3600 Frederikssund
0253 Greve DK-85 2670 Greve
0259 Køge DK-85 4600 Køge
0260 Halsnæs DK-84 3300 Frederiksværk
0265 Roskilde DK-85 4000 Roskilde
0269 Solrød DK-85 2680 Solrød Strand
0270 Gribskov DK-84 3200 Helsinge
0306 Odsherred DK-85 4500 Nykøbing Sj
0316 Holbæk DK-85 4300 Holbæk
0320 Faxe DK-85 4640 Faxe
0326 Kalundborg DK-85 4400 Kalundborg
0329 Ringsted DK-85 4100 Ringsted
0330 Slagelse DK-85 4200 Slagelse
0336 Stevns DK-85 4660 Store Heddinge
0340 Sorø DK-85 4180 Sorø
0350 Lejre DK-85 4320 Lejre
0360 Lolland DK-85 4900 Nakskov
0370 Næstved DK-85 4700 Næstved
0376 Guldborgsund DK-85 4800 Nykøbing F
0390 Vordingborg DK-85 4760 Vordingborg
0400 Bornholm DK-84 3700 Rønne
0410 Middelfart DK-83 5500 Middelfart
0420 Assens DK-83 5610 Assens
0430 Faaborg-Midtfyn DK-83 5600 Faaborg
0440 Kerteminde DK-83 5300 Kerteminde
0450 Nyborg DK-83 5800 Nyborg
0461 Odense DK-83 5000 Odense C
0479 Svendborg DK-83 5700 Svendborg
0480 Nordfyns DK-83 5400 Bogense
0482 Langeland DK-83 5900 Rudkøbing
0492 Ærø DK-83 5970 Ærøskøbing
0510 Haderslev DK-83 6100 Haderslev
0530 Billund DK-83 7190 Billund
0540 Sønderborg DK-83 6400 Sønderborg
0550 Tønder DK-83 6270 Tønder
0561 Esbjerg DK-83 6700 Esbjerg
0563 Fanø DK-83 6720 Fanø
0573 Varde DK-83 6800 Varde
0575 Vejen DK-83 6600 Vejen
0580 Aabenraa DK-83 6200 Aabenraa
0607 Fredericia DK-83 7000 Fredericia
0615 Horsens DK-82 8700 Horsens
0621 Kolding DK-83 6000 Kolding
0630 Vejle DK-83 7100 Vejle
0657 Herning DK-82 7400 Herning
0661 Holstebro DK-82 7500 Holstebro
0665 Lemvig DK-82 7620 Lemvig
0671 Struer DK-82 7600 Struer
0706 Syddjurs DK-82 8400 Ebeltoft
0707 Norddjurs DK-82 8500 Grenaa
0710 Favrskov DK-82 8450 Hammel
0727 Odder DK-82 8300 Odder
0730 Randers DK-82 8900 Randers C
0740 Silkeborg DK-82 8600 Silkeborg
0741 Samsø DK-82 8305 Samsø
0746 Skanderborg DK-82 8660 Skanderborg
0751 Aarhus DK-82 8000 Aarhus C
0756 Ikast-Brande DK-82 7430 Ikast
0760 Ringkøbing-Skjern DK-82 6950 Ringkøbing
0766 Hedensted DK-82 8722 Hedensted
0773 Morsø DK-81 7900 Nykøbing M
0779 Skive DK-82 7800 Skive
0787 Thisted DK-81 7700 Thisted
0791 Viborg DK-82 8800 Viborg
0810 Brønderslev DK-81 9700 Brønderslev
0813 Frederikshavn DK-81 9900 Frederikshavn
0820 Vesthimmerland DK-81 9600 Aars
0825 Læsø DK-81 9940 Læsø
0840 Rebild DK-81 9530 Støvring
0846 Mariagerfjord DK-81 9500 Hobro
0849 Jammerbugt DK-81 9440 Aabybro
0851 Aalborg DK-81 9000 Aalborg
0860 Hjørring DK-81 9800 Hjørring
"""


def _parse(rows: str) -> dict[str, Municipality]:
    out = {}
    for row in rows.strip().splitlines():
        code, name, region, postal, town = row.split(" ", 4)
        out[code] = Municipality(code, name, region, postal, town)
    return out


MUNICIPALITIES: dict[str, Municipality] = _parse(_ROWS)
"""The 98 municipalities, by code."""

VALID_MUNICIPALITY_CODES: frozenset[str] = frozenset(MUNICIPALITIES) | {"0411"}
"""Every code of dk-core's municipality CodeSystem (the municipalities and Christiansø)."""

STREETS = (
    "Algade",
    "Bredgade",
    "Skolevej",
    "Kirkevej",
    "Stationsvej",
    "Møllevej",
    "Skovvej",
    "Engvej",
    "Vestergade",
    "Østergade",
    "Nørregade",
    "Søndergade",
    "Havnegade",
    "Birkevej",
    "Bøgevej",
    "Egevej",
    "Ahornvej",
    "Rosenvænget",
    "Kastanievej",
    "Strandvejen",
    "Åboulevarden",
    "Fasanvej",
    "Lærkevej",
    "Violvej",
)
