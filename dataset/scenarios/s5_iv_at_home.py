"""S5 IV treatment at home.

The hospital asks the municipal home nurses to give IV antibiotics at home (ServiceRequest); the
home nursing accepts (Task); the hospital doctor keeps the medical responsibility, which the
CareTeam (patient-responsible doctor) and the plan state; the nurses' CRP measurements follow.
"""

from __future__ import annotations

from dataset import codes as c
from dataset.build import ref_of
from dataset.scenarios import events, people, plans, records, requests
from dataset.scenarios.scene import Person, Scene


def build(scene: Scene, person: Person) -> None:
    home, rng = scene.home, scene.rng
    ward = home.region.infection
    doctor, ward_nurse = ward.of("doctor"), ward.of("nurse")
    home_nursing = home.municipality.home_nursing
    home_nurse = home_nursing.of("nurse")
    gp_doctor = home.gp.of("doctor", rng)
    subject = ref_of(people.patient(scene, "citizen", person))
    diagnosis = rng.choice(c.IV_INFECTION)
    start = -rng.randrange(10, 30)
    days = rng.choice((10, 14, 21, 28))
    problem = records.condition(scene, "condition", subject, diagnosis, doctor.ref(), start - 5)
    drug = rng.choice(c.IV_ANTIBIOTICS)
    what = f"Intravenøs behandling med {drug.name.lower()} i eget hjem"
    period = {"start": scene.day(start), "end": scene.day(start + days)}
    team = plans.careteam(
        scene, "careteam", subject, f"IV-behandling i hjemmet for {person.name.text}", ward.ref(),
        [
            (("patient-responsible-doctor",), doctor.ref()),
            (("coordinator",), ward_nurse.ref()),
            (("member",), home_nurse.ref()),
            (("general-practitioner",), gp_doctor.ref()),
        ],
        start - 1,
    )  # fmt: skip
    responsible = f"Det lægelige ansvar ligger hos {doctor.display}, {ward.name}."
    plan = plans.careplan(
        scene, "careplan", subject, what, ["iv-treatment-at-home"], ref_of(team),
        doctor.ref(),
        [
            plans.activity(f"Intravenøs {drug.name.lower()}: {drug.dosages[0]}", "in-progress",
                           [home_nurse.ref()], f"{days} dage"),
            plans.activity("Lægelig vurdering og ansvar for behandlingen", "in-progress",
                           [doctor.ref()], "Ugentligt"),
            plans.activity("Blodprøver (CRP og nyretal)", "in-progress", [home_nurse.ref()],
                           "2 gange ugentligt"),
            plans.activity("Pleje af PICC-line", "in-progress", [home_nurse.ref()], "Dagligt"),
        ],
        start - 1, addresses=[ref_of(problem, diagnosis.text)], description=responsible,
        end=period["end"],
    )  # fmt: skip
    request = requests.service_request(
        scene, "iv-request", subject, c.HOME_NURSING, what, doctor.ref(), home_nursing.ref(),
        "asap", scene.at(start - 1, 10), reasonReference=[ref_of(problem, diagnosis.text)],
        basedOn=[ref_of(plan)], occurrencePeriod=period, note=[{"text": responsible}],
    )  # fmt: skip
    requests.task(
        scene, "iv-task", subject, ref_of(request, what),
        "Hjemmesygeplejen overtager den intravenøse behandling", doctor.ref(), home_nurse.ref(),
        rng.choice(("accepted", "in-progress")), scene.at(start - 1, 14),
    )  # fmt: skip
    records.medication(
        scene, "medication", subject, drug, doctor.ref(), start, "new",
        f"Behandling af {diagnosis.text.lower()}",
    )  # fmt: skip
    crp = rng.randrange(80, 220)
    for i in range(1, rng.randint(1, 3) + 1):
        events.observation(
            scene, f"crp-{i}", subject, events.CRP, scene.at(start + 3 * i, 9), home_nurse.ref(),
            "laboratory", valueQuantity=events.quantity(crp, "mg/L", "mg/L"),
        )  # fmt: skip
        crp = max(crp // 2, 5)
