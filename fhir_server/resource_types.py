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
        "Group",
        # topic-based subscriptions (R4 Subscriptions Backport IG, docs/subscriptions.md)
        "Subscription",
        # conformance resources: the Danish profiles and terminology, custom search parameters
        "SearchParameter",
        "StructureDefinition",
        "ValueSet",
        "CodeSystem",
        "ConceptMap",
    }
)

CONFORMANCE_TYPES: frozenset[str] = frozenset(
    {
        "SearchParameter",
        "StructureDefinition",
        "ValueSet",
        "CodeSystem",
        "ConceptMap",
        "NamingSystem",
        "CompartmentDefinition",
        "OperationDefinition",
        "CapabilityStatement",
        "ImplementationGuide",
        "StructureMap",
        "GraphDefinition",
        "MessageDefinition",
        "TerminologyCapabilities",
    }
)
"""Resources that change what the server does (how it searches, validates or expands codes),
served or not: written only by administrators (``system/`` scopes), see
`auth.access.scopes`. The one list of them. (A Subscription is a client's own: see
`auth.access.scopes`, docs/subscriptions.md.)"""

DIRECTORY_TYPES: frozenset[str] = frozenset(
    {
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Location",
        "HealthcareService",
        "Endpoint",
    }
)
"""The health-care directory: who works where. Written by clinicians and administrators only,
read by everyone with a scope on the type (see `auth.access.scopes`)."""
