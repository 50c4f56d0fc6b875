"""The SQLite index stores a parameter as a 31-bit key of ``Type.name``: no two parameters the
server indexes may share one."""

from __future__ import annotations

from fhir_server.resource_types import SERVED_TYPES
from fhir_server.search.registry import params_for
from fhir_server.store.sqlite.schema import param_key


def test_no_two_indexed_parameters_share_a_key() -> None:
    names = [
        (type_, name + suffix)
        for type_ in SERVED_TYPES
        for name in params_for(type_)
        for suffix in ("", ":text", ":identifier", ":of-type")
    ]
    keys = {param_key(*n) for n in names}
    assert len(keys) == len(names)
    assert all(0 <= k < 2**31 for k in keys)


def test_last_updated_row_is_what_the_date_parameter_makes_of_the_instant() -> None:
    from fhir_server.model import instant
    from fhir_server.search.extract import with_last_updated
    from fhir_server.search.model import Index
    from fhir_server.search.params import date

    ts = 1_795_457_312_579_989
    assert with_last_updated(Index(), ts).dates == tuple(date.index("_lastUpdated", [instant(ts)]))
