"""docs/performance-search.md: the latency tables, the targets, the data and SQLite's plans."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from bench.report import now, revision
from bench.search_data import Drawn, SizeResult

DOCS = Path(__file__).resolve().parent.parent / "docs"
DOC = DOCS / "performance-search.md"
MAIN_DOC = DOCS / "performance.md"
LINK = (
    "## Search at scale\n\nSearch latency at 10k / 100k / 1M resources: see"
    " [performance-search.md](performance-search.md) (`.venv/bin/python -m bench.search`).\n"
)
PATIENT_SCOPED = ("carePlan-patient-status", "serviceRequest-subject", "medStatement-patient")
PAGE = 50
P95_TARGET_MS, GROWTH_TARGET = 10.0, 1.5

Queries = dict[str, tuple[str, Callable[..., str]]]


def _label(resources: int) -> str:
    n = resources
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def _ms(value: float | None) -> str:
    return "error" if value is None else f"{value:.1f}"


def _growth(a: float | None, b: float | None) -> str:
    return f"{b / a:.1f}x" if a and b else "-"


class _Report:
    def __init__(self, results: list[SizeResult], queries: Queries, paging: str) -> None:
        self.results, self.queries, self.paging = results, queries, paging
        self.names = [*queries, "paging-page-1", f"paging-page-{PAGE}"]
        self.labels = [_label(r.resources) for r in results]
        self.first, self.last = results[0], results[-1]

    def shown(self, name: str) -> str:
        """The query as a table cell (GitHub tables split cells even inside backticks)."""
        text = self.queries[name][0] if name in self.queries else None
        text = text or f"{self.paging} (page {name.rsplit('-', 1)[1]})"
        return text.replace("|", "\\|")

    def latency(self) -> str:
        labels = self.labels
        head = "| Query | " + " | ".join(f"{x} p50 / p95 ms" for x in labels)
        head += f" | p50 growth {labels[0]}→{labels[-1]} | in-process p50 ms ({labels[-1]}) |"
        lines = [head, "|---|" + "--:|" * (len(self.results) + 2)]
        for name in self.names:
            cells = []
            for r in self.results:
                t = r.timings[name]
                cell = f"{_ms(t.p50)} / {_ms(t.p95)}"
                cells.append(cell + (f" ({t.entries:.0f})" if t.entries is not None else ""))
            growth = _growth(self.first.timings[name].p50, self.last.timings[name].p50)
            store = self.last.timings[name].store_p50
            store_cell = "-" if store is None else f"{store:.1f}"
            row = f"| `{self.shown(name)}` | " + " | ".join(cells)
            lines.append(row + f" | {growth} | {store_cell} |")
        return "\n".join(lines)

    def inproc(self) -> str:
        labels = self.labels
        lines = [
            "| Query | " + " | ".join(labels) + f" | growth {labels[0]}→{labels[-1]} |",
            "|---|" + "--:|" * (len(self.results) + 1),
        ]
        for name in self.names:
            values = [r.timings[name].store_p50 for r in self.results]
            cells = " | ".join("-" if v is None else f"{v:.2f}" for v in values)
            lines.append(f"| `{self.shown(name)}` | {cells} | {_growth(values[0], values[-1])} |")
        return "\n".join(lines)

    def verdict(self) -> str:
        out = []
        for name in PATIENT_SCOPED:
            t, t0 = self.last.timings[name], self.first.timings[name]
            ok95 = t.p95 is not None and t.p95 < P95_TARGET_MS
            growth = (t.p50 or 0) / (t0.p50 or 1)
            ok = growth <= GROWTH_TARGET
            out.append(
                f"- `{self.queries[name][0]}`: p95 {_ms(t.p95)} ms"
                f" ({'meets' if ok95 else 'misses'} < {P95_TARGET_MS:g} ms), p50 growth"
                f" {growth:.2f}x ({'meets' if ok else 'misses'} ≤ {GROWTH_TARGET:g}x)"
            )
        return "\n".join(out)

    def sizes(self) -> str:
        return "\n".join(
            f"| {_label(r.resources)} | {r.patients:,} | {r.resources:,}"
            f" | {r.load_seconds:,.0f} s | {r.load_rate:,.0f} | {r.db_bytes / 1e6:,.0f} MB"
            f" ({r.db_bytes / r.resources / 1e3:.1f} KB/resource) |"
            for r in self.results
        )

    def errors(self) -> str:
        return "\n".join(
            f"- {_label(r.resources)} `{name}`: {t.errors} errors, e.g. {t.error}"
            for r in self.results
            for name, t in r.timings.items()
            if t.errors
        )

    def plans(self) -> str:
        return "\n\n".join(
            f"`{self.shown(n).replace(chr(92), '')}`\n\n```\n"
            + "\n".join(self.last.timings[n].plan)
            + "\n```"
            for n in self.names
            if self.last.timings[n].plan
        )


def _types(drawn: Drawn) -> str:
    return ", ".join(f"{n:,} {t}" for t, n in drawn.types.items())


def render(
    results: list[SizeResult], opts: argparse.Namespace, queries: Queries, paging: str, drawn: Drawn
) -> str:
    """The page; ``drawn`` describes the largest size."""
    rep = _Report(results, queries, paging)
    labels = rep.labels
    rare, rare_count = drawn.condition_codes[-1]
    return f"""# Search at scale

Measured by `bench/search.py` (not part of `make test`); regenerate with
`.venv/bin/python -m bench.search --sizes {",".join(str(r.patients) for r in results)}`
(this page is rewritten by each run; `make bench` does not touch it).

- **Date:** {now()}
- **Machine:** {opts.machine} (a shared, noisy VM; load average {opts.load_average} at the
  start)
- **Code:** {revision()}
- **Command:** `.venv/bin/python -m bench.search {opts.argv}`

## Latency per query

Sequential requests over one keep-alive HTTP/1.1 connection (latency, not throughput):
a warm-up pass over the whole mix ({opts.warmup} requests per query with other values), then
per query {opts.warmup} warm-up requests and {opts.requests} timed ones, parameter values
(citizen, CPR, ATC code, month, birth date, organization) drawn deterministically per size from
the loaded data. In parentheses: mean Bundle entries per response. Paging: {opts.walks} walks
following `next` to page {PAGE}, after one warm-up walk. **In-process** runs the same searches
in the benchmark's own process on the same file (query building, chain resolution, SQL,
includes; no HTTP, no Bundle rendering), median of {opts.inproc} values, for the largest size.

{rep.latency()}

In-process p50 ms (the store's part alone, same searches, no HTTP; paging: per page while
walking to page {PAGE}):

{rep.inproc()}

**Targets** (at the largest size measured, {labels[-1]}; indexed patient-scoped searches
p95 < {P95_TARGET_MS:g} ms, p50 growth ≤ {GROWTH_TARGET:g}x from {labels[0]}):

{rep.verdict()}

## Data and load

The project's Danish data set: `fhir-server generate --patients N --seed 1` (scenarios S1-S7
in turn, with random variation; [dataset.md](dataset.md)), every resource conformant to the
profile the default server requires for its type. The largest size holds {_types(drawn)}.
MedicationStatements use {len(drawn.atc_codes)} ATC codes (skewed); Observation dates fall in
{len(drawn.observation_months)} months ({drawn.observation_months[0]} to
{drawn.observation_months[-1]}), the date query's months; Conditions use
{len(drawn.condition_codes)} SKS diagnosis codes, the rarest (`{rare}`, {rare_count:,}
Conditions) is the `_has` query's (every Observation code is too common for `_has` at this
size: more than the server's 10,000-match limit for an inner search).
Each size is loaded with `fhir-server load` (`FHIR_SQLITE_SYNCHRONOUS=NORMAL`,
`FHIR_VALIDATE_PROFILES=false`: the generator's files need no validation to be searched, and
the write path is measured in [performance.md](performance.md)) into a fresh database, the
loader pinned to CPU 0; the server then runs with the default settings but `FHIR_AUTH=off`
(the store's latency; token checking is measured by `bench.smart`). Load time includes the
command's start-up.

| Size | Citizens | Resources | Load time | Resources/s | DB size |
|---|--:|--:|--:|--:|--:|
{rep.sizes()}

## Errors

{rep.errors() or "None."}

## SQLite plans ({labels[-1]})

`EXPLAIN QUERY PLAN` of every statement one search runs (chains: the inner searches first).

{rep.plans()}
"""


def write_docs(text: str) -> None:
    DOC.write_text(text)
    main = MAIN_DOC.read_text() if MAIN_DOC.exists() else "# Performance\n"
    if "## Search at scale" not in main:
        head, sep, tail = main.partition("\n## History")
        main = f"{head.rstrip()}\n\n{LINK}{sep}{tail}" if sep else f"{main.rstrip()}\n\n{LINK}"
        MAIN_DOC.write_text(main)
