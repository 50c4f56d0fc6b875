"""search at type level (http://hl7.org/fhir/R4/http.html#search), GET or POST ``_search``.

Only the parameters the registry declares are accepted; anything else is a 400, never ignored.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fhir_server.bundles.build import bundle, full_url, page_url, resource_fragment
from fhir_server.errors import Invalid, UnsupportedMediaType
from fhir_server.interactions.context import Context, FhirRequest, FhirResult
from fhir_server.search.parse import parse_search


def _form_pairs(req: FhirRequest) -> list[tuple[str, str]]:
    if not req.body:
        return []
    if req.content_type != "form":
        raise UnsupportedMediaType("POST _search takes application/x-www-form-urlencoded")
    try:
        text = bytes(req.body).decode()
    except UnicodeDecodeError as err:
        raise Invalid(f"The form body is not UTF-8: {err}") from err
    return parse_qsl(text, keep_blank_values=True)


async def search(ctx: Context, req: FhirRequest, type_: str) -> FhirResult:
    pairs = req.params + (_form_pairs(req) if req.method == "POST" else [])
    query = parse_search(
        type_,
        pairs,
        default_count=ctx.settings.default_page_size,
        max_count=ctx.settings.max_page_size,
    )
    page = await ctx.search(query)
    here = f"{ctx.base_url}/{type_}"
    links = [("self", page_url(here, pairs, query.after_id))]
    if page.next_cursor:
        links.append(("next", page_url(here, pairs, page.next_cursor)))
    entries = [
        {
            "fullUrl": full_url(ctx.base_url, s),
            "resource": resource_fragment(s),
            "search": {"mode": "match"},
        }
        for s in page.items
    ]
    return FhirResult(200, body=bundle("searchset", entries, links))
