"""The scenarios S1-S7 of DOMAIN.md §3, each a function that builds one citizen's resources."""

from __future__ import annotations

from dataset.scenarios import (
    s1_preventive_visit,
    s2_child_psychiatry,
    s3_shared_course,
    s4_discharge,
    s5_iv_at_home,
    s6_acute_function,
    s7_citizen_view,
)
from dataset.scenarios.scene import Scenario

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("s1", "Forebyggende sygebesøg", (75, 95), "citizen", s1_preventive_visit.build),
    Scenario(
        "s2", "Barn i børne- og ungdomspsykiatrien", (7, 17), "child", s2_child_psychiatry.build
    ),
    Scenario("s3", "Én borger, ét fælles forløb", (20, 65), "citizen", s3_shared_course.build),
    Scenario("s4", "Udskrivelse til eget hjem", (70, 95), "citizen", s4_discharge.build),
    Scenario("s5", "Intravenøs behandling i eget hjem", (40, 90), "citizen", s5_iv_at_home.build),
    Scenario("s6", "Henvisning til akutfunktionen", (65, 95), "citizen", s6_acute_function.build),
    Scenario("s7", "Borgerens eget overblik", (75, 92), "citizen", s7_citizen_view.build),
)
