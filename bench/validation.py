"""What validation costs per resource, in process: the bench's typical Danish resources
(bench/data.py) against their R4 base definition, and against the profiles they claim once
profiles/definitions holds them. For scale, the same resources through the write path's former
structural check (fhir.resources' pydantic models, ``tests.support.r4b_models``).

``.venv/bin/python -m bench.validation`` prints CPU microseconds per resource (the best of
several rounds, ``time.process_time``, so other processes on a shared machine count less).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from bench.data import Generator
from profiles.validation import Validator
from tests.support.r4b_models import check_structure

Resource = dict[str, Any]


def _samples(count: int) -> dict[str, list[Resource]]:
    gen = Generator(seed=7)
    out: dict[str, list[Resource]] = {}
    for _ in range(count):
        patient = gen.patient()
        out.setdefault("Patient", []).append(patient)
        for make in (gen.care_plan, gen.medication_statement, gen.service_request):
            res = make("Patient/p1")
            out.setdefault(res["resourceType"], []).append(res)
    return out


def _without_profiles(res: Resource) -> Resource:
    meta = res.get("meta")
    if not isinstance(meta, dict) or "profile" not in meta:
        return res
    rest = {k: v for k, v in meta.items() if k != "profile"}
    return {**res, "meta": rest} if rest else {k: v for k, v in res.items() if k != "meta"}


def _cost(run: Callable[[], None], per_round: int, rounds: int) -> float:
    run()
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best / per_round * 1e6


def measure(count: int = 200, rounds: int = 7) -> list[tuple[str, str, float, int | None]]:
    validator = Validator.default()
    validator.compile_all()
    rows: list[tuple[str, str, float, int | None]] = []
    for kind, resources in _samples(count).items():
        claimed = [r.get("meta", {}).get("profile", []) for r in resources]
        known = [
            r
            for r, urls in zip(resources, claimed, strict=True)
            if urls and all(validator.library.structure_definition(u) for u in urls)
        ]
        for label, batch in (
            ("R4 base", [_without_profiles(r) for r in resources]),
            ("claimed profiles", known),
        ):
            if not batch:
                continue
            errors = sum(1 for r in batch for i in validator.validate(r) if i.severity == "error")

            def run(batch: list[Resource] = batch) -> None:
                for r in batch:
                    validator.validate(r)

            rows.append((kind, label, _cost(run, len(batch), rounds), errors))
        bare = [_without_profiles(r) for r in resources]

        def pydantic(batch: list[Resource] = bare) -> None:
            for r in batch:
                check_structure(r["resourceType"], r)

        rows.append((kind, "pydantic (scale)", _cost(pydantic, len(bare), rounds), None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.validation", description=__doc__)
    parser.add_argument("--count", type=int, default=200, help="resources per type")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"{'type':<22}{'against':<18}{'µs/resource':>12}{'errors':>8}")
    for kind, label, micros, errors in measure(args.count, args.rounds):
        shown = "" if errors is None else str(errors)
        print(f"{kind:<22}{label:<18}{micros:>12.1f}{shown:>8}")


if __name__ == "__main__":
    main()
