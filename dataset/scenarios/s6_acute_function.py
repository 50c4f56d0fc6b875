"""S6 Referral to the municipal acute function.

The GP asks the municipality's acute function to observe and treat at home (ServiceRequest,
priority asap); the acute function accepts (Task), visits (Encounter, measurements), and sends
the results and later the end of the course back to the GP as CareCommunications.
"""

from __future__ import annotations

from dataset import codes as c
from dataset.build import ref_of
from dataset.scenarios import events, people, records, requests
from dataset.scenarios.scene import Person, Scene

RESULTS = c.medcom_category("examination-results", "Undersøgelsesresultater")
COORDINATION = c.medcom_category("carecoordination", "Koordinering")
WHAT = "Akut sygepleje i hjemmet: observation og behandling"


def build(scene: Scene, person: Person) -> None:
    home, rng = scene.home, scene.rng
    acute = home.municipality.acute
    nurse = acute.of("nurse", rng)
    gp_doctor = home.gp.of("doctor", rng)
    subject = ref_of(people.patient(scene, "citizen", person))
    diagnosis = rng.choice(c.ACUTE)
    day = -rng.randrange(3, 90)
    problem = records.condition(scene, "condition", subject, diagnosis, gp_doctor.ref(), day)
    request = requests.service_request(
        scene, "acute-request", subject, c.HOME_NURSING, WHAT, gp_doctor.ref(), acute.ref(),
        "asap", scene.at(day, 10, 15), "completed",
        reasonReference=[ref_of(problem, diagnosis.text)],
        note=[{"text": "Vurder almentilstand, væskeindtag og behov for behandling i hjemmet."}],
    )  # fmt: skip
    request_ref = ref_of(request, WHAT)
    requests.task(
        scene, "acute-task", subject, request_ref, "Akutfunktionen overtager opgaven",
        gp_doctor.ref(), nurse.ref(), "completed", scene.at(day, 10, 30),
        executionPeriod={"start": scene.at(day, 12), "end": scene.at(day + 3, 12)},
    )  # fmt: skip
    visit = events.encounter(
        scene, "acute-visit", subject, "HH", "Akut hjemmebesøg",
        (scene.at(day, 12), scene.at(day, 13)), acute.ref(), [nurse.ref()], basedOn=[request_ref],
    )  # fmt: skip
    visit_ref = ref_of(visit, "Akut hjemmebesøg")
    when = scene.at(day, 12, 20)
    temperature = rng.randrange(365, 395) / 10
    saturation = rng.randrange(88, 98)
    events.observation(
        scene, "temperature", subject, events.BODY_TEMPERATURE, when, nurse.ref(), "vital-signs",
        visit_ref, valueQuantity=events.quantity(temperature, "°C", "Cel"),
    )  # fmt: skip
    events.observation(
        scene, "saturation", subject, events.OXYGEN_SATURATION, when, nurse.ref(), "vital-signs",
        visit_ref, valueQuantity=events.quantity(saturation, "%", "%"),
    )  # fmt: skip
    requests.communication(
        scene, "results", subject, RESULTS, nurse.ref(), gp_doctor.ref(),
        f"Målinger ved akut besøg: temperatur {temperature} °C, iltmætning {saturation} %. "
        "Borgeren er opstartet på væsketerapi; vi ser til borgeren to gange dagligt.",
        scene.at(day, 14), basedOn=[request_ref], encounter=visit_ref,
    )  # fmt: skip
    requests.communication(
        scene, "course-ended", subject, COORDINATION,
        nurse.ref(), gp_doctor.ref(),
        "Forløbet i akutfunktionen er afsluttet. Borgeren er stabil og overgår til "
        "almindelig hjemmesygepleje.",
        scene.at(day + 3, 11), basedOn=[request_ref],
    )  # fmt: skip
