"""The resource types this server serves (R4 4.0.1)."""

SERVED_TYPES: frozenset[str] = frozenset(
    {
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "RelatedPerson",
        "CarePlan",
        "CareTeam",
        "ServiceRequest",
        "MedicationStatement",
        "Medication",
        "Goal",
        "Condition",
        "Consent",
        "Communication",
        "Encounter",
        "Task",
        "Observation",
        "Provenance",
        "AuditEvent",
    }
)

# R4 defines an `identifier` search parameter on every served type but these.
WITHOUT_IDENTIFIER_PARAM: frozenset[str] = frozenset({"Provenance", "AuditEvent"})
