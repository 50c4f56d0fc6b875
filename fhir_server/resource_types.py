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
        # conformance resources: the Danish profiles and terminology, custom search parameters
        "SearchParameter",
        "StructureDefinition",
        "ValueSet",
        "CodeSystem",
    }
)
