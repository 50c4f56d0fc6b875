"""The embedded SMART App Launch 2.2 authorization server (``FHIR_AUTH=smart``).

``discovery`` (smart-configuration, OpenID configuration, CapabilityStatement security),
``server`` (authlib's authorization server, run off the event loop), ``grants`` (authorization
code with PKCE S256, refresh, client credentials), ``assertion`` (``private_key_jwt``), ``oidc``
(id_token), ``endpoints`` (introspection, revocation), ``launch`` (the EHR launch API),
``interactive`` and ``pages`` (login, patient picker and approval pages in Danish and English),
``routes`` (the ASGI app mounted under ``/fhir/auth`` and ``/fhir/.well-known``).
"""
