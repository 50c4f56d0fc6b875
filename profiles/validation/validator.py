"""The Validator: a resource against its R4 base definition and the profiles it claims.

Built once per process (``Validator.default()``); rules compile on first use and are cached, after
which ``validate`` is synchronous, does no I/O and keeps all per-call state in a
:class:`~profiles.validation.walker.Context`, so the write path may call it from any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from profiles.library import DEFINITIONS_DIR, R4_DIR, Library
from profiles.terminology import Terminology, TerminologyError
from profiles.validation.compile_base import R4, BaseCompiler, Definitions
from profiles.validation.compile_profile import ProfileCompiler
from profiles.validation.fhirpath import FhirPathEngine, Model, UserFunction
from profiles.validation.identifiers import FHIRPATH_FUNCTIONS
from profiles.validation.invariants import HTML_CHECKS
from profiles.validation.issues import (
    NOT_SUPPORTED,
    PROCESSING,
    STRUCTURE,
    TOO_COSTLY,
    ValidationIssue,
)
from profiles.validation.rules import ComplexRule
from profiles.validation.snapshot import ProfileError
from profiles.validation.walker import Context, IssueLimit, walk

_default: Validator | None = None
_default_lock = threading.Lock()


def fhir_model(library: Library) -> Model:
    """Choice element names and the type suffixes their JSON names use, from the R4 base."""
    names: set[str] = set()
    suffixes: set[str] = set()
    for sd in library.structure_definitions.values():
        if sd.get("derivation") == "constraint":
            continue
        for element in sd.get("snapshot", {}).get("element", []):
            if element["path"].endswith("[x]"):
                names.add(element["path"].rsplit(".", 1)[-1][:-3])
                suffixes.update(t["code"][:1].upper() + t["code"][1:] for t in element["type"])
    return Model(frozenset(names), frozenset(suffixes))


def member_of(terminology: Terminology) -> UserFunction:
    """FHIRPath ``memberOf(valueset)``: empty when the ValueSet is unknown or not checkable."""

    def run(items: list[Any], value_set: list[Any]) -> list[bool]:
        if not items or not value_set or not isinstance(value_set[0], str):
            return []
        try:
            content = terminology.content(value_set[0])
        except TerminologyError:
            return []
        verdicts = []
        for item in items:
            if isinstance(item, str):
                verdicts.append(content.contains(item))
            elif isinstance(item, dict):
                codings = item.get("coding", [item])
                verdicts.append(
                    any(
                        isinstance(c, dict)
                        and isinstance(c.get("code"), str)
                        and content.contains(c["code"], c.get("system")) is True
                        for c in codings
                    )
                )
        if None in verdicts:
            return []
        return [all(verdicts)]

    return UserFunction(run, (1,))


_MISSING: Any = object()


class Validator:
    def __init__(
        self,
        library: Library,
        terminology: Terminology | None = None,
        parent: Validator | None = None,
    ):
        self.library = library
        self.terminology = terminology or Terminology(library.code_systems, library.value_sets)
        self._parent: Validator | None = parent
        """Whose R4 base rules this one shares (`extended`): the base is the same R4."""
        model: Model = parent.fhirpath.model if parent is not None else fhir_model(library)
        functions = {
            **FHIRPATH_FUNCTIONS,
            "htmlChecks": HTML_CHECKS,
            "memberOf": member_of(self.terminology),
        }
        self.fhirpath: FhirPathEngine = FhirPathEngine(model, functions)
        self._definitions = Definitions(library, self.terminology, self.fhirpath)
        self._profile_compiler = ProfileCompiler(self._definitions, model.type_suffixes)
        self._base: dict[str, ComplexRule | None] = {}
        """The R4 base rules compiled so far, by type: each type's on its first use, as the
        145 types' rules take seconds to build and most servers see a few dozen types."""
        self._base_compiler = BaseCompiler(self._definitions)
        self._profiles: dict[str, ComplexRule | ProfileError | None] = {}
        self._lock = threading.RLock()

    @classmethod
    def default(cls) -> Validator:
        """The process-wide validator over profiles/r4 and profiles/definitions."""
        global _default
        if _default is None:
            with _default_lock:
                if _default is None:
                    _default = cls.from_directories([R4_DIR, DEFINITIONS_DIR])
        return _default

    @classmethod
    def from_directories(cls, directories: Iterable[Path]) -> Validator:
        return cls(Library.load(directories))

    def extended(self, resources: Iterable[dict[str, Any]]) -> Validator:
        """A validator over this one's definitions plus ``resources`` — profiles (constraining
        StructureDefinitions, with snapshots), ValueSets and CodeSystems from the store — that
        shares this one's compiled R4 base rules (built once per process). Resources never
        replace this one's canonicals; other StructureDefinitions (new types) are ignored."""
        usable = [
            r
            for r in resources
            if r.get("resourceType") != "StructureDefinition" or r.get("derivation") == "constraint"
        ]
        return Validator(self.library.extended(usable), parent=self._root)

    @property
    def _root(self) -> Validator:
        return self._parent._root if self._parent is not None else self

    # -- compiled rules -------------------------------------------------------------------

    def base_rule(self, type_name: str) -> ComplexRule | None:
        if self._parent is not None:
            return self._parent.base_rule(type_name)
        found = self._base.get(type_name, _MISSING)
        if found is _MISSING:
            with self._lock:
                found = self._base.get(type_name, _MISSING)
                if found is _MISSING:
                    found = self._base_compiler.rule(type_name)
                    # a rule is published once the outermost compilation has filled it (and
                    # every rule it reached), so a reader without the lock sees whole rules
                    self._base = {**self._base, **self._base_compiler.done(), type_name: found}
        return found if isinstance(found, ComplexRule) else None

    def _profile(self, url: str) -> ComplexRule | ProfileError | None:
        if url in self._profiles:
            return self._profiles[url]
        with self._lock:
            if url not in self._profiles:
                sd = self.library.structure_definition(url)
                result: ComplexRule | ProfileError | None = None
                key = canonical(sd) if sd is not None else url
                if key in self._profiles:  # the same profile asked for by another name
                    result = self._profiles[key]
                elif sd is not None and sd.get("derivation") == "constraint":
                    self.base_rule(sd["type"])
                    try:
                        result = self._profile_compiler.compile(sd)
                    except ProfileError as exc:
                        result = exc
                    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                        # a StructureDefinition from outside may be malformed anywhere
                        result = ProfileError(f"{sd.get('url')}: malformed ({exc!r})")
                self._profiles[url] = self._profiles[key] = result
            return self._profiles[url]

    def profile_error(self, url: str) -> ProfileError | None:
        """Why the profile ``url`` (``url|version``) cannot be used; None when it compiles (or
        is not a loaded profile)."""
        found = self._profile(url)
        return found if isinstance(found, ProfileError) else None

    def profile_rule(self, url: str) -> ComplexRule | None:
        """The compiled rules of a profile; None when unknown, a base type, or broken."""
        found = self._profile(url)
        return found if isinstance(found, ComplexRule) else None

    def extension_rule(self, url: str) -> ComplexRule | None:
        """The rules of the extension definition ``url`` names; None for any other URL."""
        sd = self.library.structure_definitions.get(url)
        if sd is None or sd.get("type") != "Extension":
            return None
        return self.profile_rule(url)

    def compile_all(self) -> list[str]:
        """Compile every profile now (at start-up, or in a test of the profiles): the problems
        found — profiles that do not compile, and profiles they name that are not loaded (a
        type, target or extension profile nobody can check) — empty when all is well."""
        self.base_rule("Resource")
        problems = []
        for url, sd in sorted(self.library.structure_definitions.items()):
            if sd.get("derivation") == "constraint":
                found = self._profile(url)
                if isinstance(found, ProfileError):
                    problems.append(f"{url}: {found}")
                problems += [f"{url}: {p}" for p in self._unresolved(sd)]
        return problems

    def _unresolved(self, sd: dict[str, Any]) -> list[str]:
        out = []
        for element in sd.get("snapshot", {}).get("element", []):
            binding = element.get("binding") or {}
            value_set = binding.get("valueSet")
            required = binding.get("strength") == "required"
            if required and value_set and self.terminology.value_set(value_set) is None:
                where = element.get("id", element["path"])
                out.append(f"{where} binds unknown ValueSet {value_set}")
            for type_ in element.get("type", []):
                for key in ("profile", "targetProfile"):
                    for ref in type_.get(key, []):
                        base = ref.partition("|")[0]
                        if base.startswith(R4) or self.library.structure_definition(ref):
                            continue
                        out.append(f"{element.get('id', element['path'])} names unknown {ref}")
        return out

    # -- validation -----------------------------------------------------------------------

    def validate(
        self,
        resource: Any,
        profiles: Sequence[str] = (),
        claimed: bool = True,
        limit: int | None = None,
        unknown_claimed: str = "error",
    ) -> list[ValidationIssue]:
        """Every problem of ``resource`` against its R4 type, ``profiles`` and (unless
        ``claimed`` is False) the profiles its ``meta.profile`` claims. Issues of the R4 pass
        have no ``profile``. With a ``limit``: at most that many (an error among them if there
        is one), then an informational ``too-costly`` issue saying the list stops there.
        ``unknown_claimed``: the severity of a ``meta.profile`` this validator does not know
        (``warning`` to accept resources tagged with other systems' profiles); a profile in
        ``profiles`` that is unknown is always an error."""
        if not isinstance(resource, dict):
            return [ValidationIssue("error", STRUCTURE, "a resource must be a JSON object", "")]
        kind = resource.get("resourceType")
        rule = self.base_rule(kind) if isinstance(kind, str) else None
        if rule is None or not rule.is_resource or not isinstance(kind, str):
            message = f"unknown resource type {kind!r}"
            return [ValidationIssue("error", NOT_SUPPORTED, message, "resourceType")]
        ctx = Context(self, resource, limit)
        try:
            walk(rule, resource, kind, ctx)
            for url, where in _claimed(resource, kind, profiles, claimed):
                unknown = unknown_claimed if where != kind else "error"
                self._against_profile(url, where, kind, resource, ctx, unknown)
        except IssueLimit:
            pass
        issues = _unique(ctx.issues)
        if ctx.more:
            message = f"Only the first {limit} issues are listed; there are more"
            issues.append(ValidationIssue("information", TOO_COSTLY, message, ""))
        return issues

    def check_claimed(self, resource: dict[str, Any], kind: str, path: str, ctx: Context) -> None:
        """The profiles ``resource`` (a Bundle entry at ``path``) claims in ``meta.profile``."""
        for url, where in _claimed(resource, kind, (), True):
            self._against_profile(url, path + where[len(kind) :], kind, resource, ctx, path=path)

    def _against_profile(
        self,
        url: str,
        where: str,
        kind: str,
        resource: dict[str, Any],
        ctx: Context,
        unknown: str = "error",
        path: str | None = None,
    ) -> None:
        """``path``: where ``resource`` is (a Bundle entry's path; its type at the top)."""
        sd = self.library.structure_definition(url)
        if sd is None:
            ctx.report(NOT_SUPPORTED, f"unknown profile {url}", where, url, unknown)
            return
        if sd.get("type") != kind:
            ctx.report(PROCESSING, f"profile {url} is for {sd.get('type')}, not {kind}", where, url)
            return
        if sd["url"] == R4 + kind:
            return  # the base pass has checked it
        found = self._profile(canonical(sd))
        if isinstance(found, ComplexRule):
            walk(found, resource, path or kind, ctx)
        else:
            ctx.report(PROCESSING, f"profile {url} cannot be used: {found}", where, url)


def canonical(sd: dict[str, Any]) -> str:
    """``url|version`` of a StructureDefinition with a version, else its url."""
    version = sd.get("version")
    return f"{sd['url']}|{version}" if isinstance(version, str) and version else str(sd["url"])


def _claimed(
    resource: dict[str, Any], kind: str, profiles: Sequence[str], claimed: bool
) -> list[tuple[str, str]]:
    """(profile URL, expression naming where it came from), each URL once."""
    out: list[tuple[str, str]] = [(url, kind) for url in profiles]
    meta = resource.get("meta") if claimed else None
    listed = meta.get("profile") if isinstance(meta, dict) else None
    if isinstance(listed, list):
        out += [
            (u, f"{kind}.meta.profile[{i}]") for i, u in enumerate(listed) if isinstance(u, str)
        ]
    seen: set[str] = set()
    unique = []
    for url, where in out:
        if url not in seen:
            seen.add(url)
            unique.append((url, where))
    return unique


def _unique(issues: list[ValidationIssue]) -> list[ValidationIssue]:
    return list(dict.fromkeys(issues))
