"""Danish municipality codes (kommunekoder) and the region each municipality lies in.

Facts from the municipality code list of Danmarks Adresseregister (DAR, danmarksadresser.dk,
"kommunekodeliste") and the regional division of the 2007 structural reform (Lov om regioner);
checked against the code list dk-core 3.7.0 publishes. 98 municipalities since 2007, plus code 0411
for Christiansø, which is not a municipality (the state administers it) but has its own code in
CPR and DAR, so addresses there carry it. Regions are ISO 3166-2 subdivision codes.
"""

from __future__ import annotations

NORDJYLLAND = "DK-81"
MIDTJYLLAND = "DK-82"
SYDDANMARK = "DK-83"
HOVEDSTADEN = "DK-84"
SJAELLAND = "DK-85"

REGIONS: tuple[tuple[str, str, str], ...] = (
    (NORDJYLLAND, "Region Nordjylland", "North Denmark Region"),
    (MIDTJYLLAND, "Region Midtjylland", "Central Denmark Region"),
    (SYDDANMARK, "Region Syddanmark", "Region of Southern Denmark"),
    (HOVEDSTADEN, "Region Hovedstaden", "Capital Region of Denmark"),
    (SJAELLAND, "Region Sjælland", "Region Zealand"),
)

CHRISTIANSOE = ("0411", "Christiansø", HOVEDSTADEN)

# (code, name, region) ordered by code.
MUNICIPALITIES: tuple[tuple[str, str, str], ...] = (
    ("0101", "København", HOVEDSTADEN),
    ("0147", "Frederiksberg", HOVEDSTADEN),
    ("0151", "Ballerup", HOVEDSTADEN),
    ("0153", "Brøndby", HOVEDSTADEN),
    ("0155", "Dragør", HOVEDSTADEN),
    ("0157", "Gentofte", HOVEDSTADEN),
    ("0159", "Gladsaxe", HOVEDSTADEN),
    ("0161", "Glostrup", HOVEDSTADEN),
    ("0163", "Herlev", HOVEDSTADEN),
    ("0165", "Albertslund", HOVEDSTADEN),
    ("0167", "Hvidovre", HOVEDSTADEN),
    ("0169", "Høje-Taastrup", HOVEDSTADEN),
    ("0173", "Lyngby-Taarbæk", HOVEDSTADEN),
    ("0175", "Rødovre", HOVEDSTADEN),
    ("0183", "Ishøj", HOVEDSTADEN),
    ("0185", "Tårnby", HOVEDSTADEN),
    ("0187", "Vallensbæk", HOVEDSTADEN),
    ("0190", "Furesø", HOVEDSTADEN),
    ("0201", "Allerød", HOVEDSTADEN),
    ("0210", "Fredensborg", HOVEDSTADEN),
    ("0217", "Helsingør", HOVEDSTADEN),
    ("0219", "Hillerød", HOVEDSTADEN),
    ("0223", "Hørsholm", HOVEDSTADEN),
    ("0230", "Rudersdal", HOVEDSTADEN),
    ("0240", "Egedal", HOVEDSTADEN),
    ("0250", "Frederikssund", HOVEDSTADEN),
    ("0253", "Greve", SJAELLAND),
    ("0259", "Køge", SJAELLAND),
    ("0260", "Halsnæs", HOVEDSTADEN),
    ("0265", "Roskilde", SJAELLAND),
    ("0269", "Solrød", SJAELLAND),
    ("0270", "Gribskov", HOVEDSTADEN),
    ("0306", "Odsherred", SJAELLAND),
    ("0316", "Holbæk", SJAELLAND),
    ("0320", "Faxe", SJAELLAND),
    ("0326", "Kalundborg", SJAELLAND),
    ("0329", "Ringsted", SJAELLAND),
    ("0330", "Slagelse", SJAELLAND),
    ("0336", "Stevns", SJAELLAND),
    ("0340", "Sorø", SJAELLAND),
    ("0350", "Lejre", SJAELLAND),
    ("0360", "Lolland", SJAELLAND),
    ("0370", "Næstved", SJAELLAND),
    ("0376", "Guldborgsund", SJAELLAND),
    ("0390", "Vordingborg", SJAELLAND),
    ("0400", "Bornholm", HOVEDSTADEN),
    ("0410", "Middelfart", SYDDANMARK),
    ("0420", "Assens", SYDDANMARK),
    ("0430", "Faaborg-Midtfyn", SYDDANMARK),
    ("0440", "Kerteminde", SYDDANMARK),
    ("0450", "Nyborg", SYDDANMARK),
    ("0461", "Odense", SYDDANMARK),
    ("0479", "Svendborg", SYDDANMARK),
    ("0480", "Nordfyns", SYDDANMARK),
    ("0482", "Langeland", SYDDANMARK),
    ("0492", "Ærø", SYDDANMARK),
    ("0510", "Haderslev", SYDDANMARK),
    ("0530", "Billund", SYDDANMARK),
    ("0540", "Sønderborg", SYDDANMARK),
    ("0550", "Tønder", SYDDANMARK),
    ("0561", "Esbjerg", SYDDANMARK),
    ("0563", "Fanø", SYDDANMARK),
    ("0573", "Varde", SYDDANMARK),
    ("0575", "Vejen", SYDDANMARK),
    ("0580", "Aabenraa", SYDDANMARK),
    ("0607", "Fredericia", SYDDANMARK),
    ("0615", "Horsens", MIDTJYLLAND),
    ("0621", "Kolding", SYDDANMARK),
    ("0630", "Vejle", SYDDANMARK),
    ("0657", "Herning", MIDTJYLLAND),
    ("0661", "Holstebro", MIDTJYLLAND),
    ("0665", "Lemvig", MIDTJYLLAND),
    ("0671", "Struer", MIDTJYLLAND),
    ("0706", "Syddjurs", MIDTJYLLAND),
    ("0707", "Norddjurs", MIDTJYLLAND),
    ("0710", "Favrskov", MIDTJYLLAND),
    ("0727", "Odder", MIDTJYLLAND),
    ("0730", "Randers", MIDTJYLLAND),
    ("0740", "Silkeborg", MIDTJYLLAND),
    ("0741", "Samsø", MIDTJYLLAND),
    ("0746", "Skanderborg", MIDTJYLLAND),
    ("0751", "Aarhus", MIDTJYLLAND),
    ("0756", "Ikast-Brande", MIDTJYLLAND),
    ("0760", "Ringkøbing-Skjern", MIDTJYLLAND),
    ("0766", "Hedensted", MIDTJYLLAND),
    ("0773", "Morsø", NORDJYLLAND),
    ("0779", "Skive", MIDTJYLLAND),
    ("0787", "Thisted", NORDJYLLAND),
    ("0791", "Viborg", MIDTJYLLAND),
    ("0810", "Brønderslev", NORDJYLLAND),
    ("0813", "Frederikshavn", NORDJYLLAND),
    ("0820", "Vesthimmerland", NORDJYLLAND),
    ("0825", "Læsø", NORDJYLLAND),
    ("0840", "Rebild", NORDJYLLAND),
    ("0846", "Mariagerfjord", NORDJYLLAND),
    ("0849", "Jammerbugt", NORDJYLLAND),
    ("0851", "Aalborg", NORDJYLLAND),
    ("0860", "Hjørring", NORDJYLLAND),
)

# Greenland's municipalities since 2018 (CPR uses these codes for residents of Greenland).
GREENLAND: tuple[tuple[str, str], ...] = (
    ("0955", "Kujalleq"),
    ("0956", "Sermersooq"),
    ("0957", "Qeqqata"),
    ("0959", "Qeqertalik"),
    ("0960", "Avannaata"),
)
