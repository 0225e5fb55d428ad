"""The rules identity resolution follows, from ``hub.identity`` in the configuration.

Every default reproduces the behaviour the hub shipped with, so an empty section
changes nothing. The rules are plain, frozen data: the resolver, the bulk path, the
candidate finder and ``threadline identity simulate`` all read the same object.

```yaml
hub:
  identity:
    priority: [record, key:salesforce_id, key, email, phone]
    max_contacts_per_value: 2       # K: held by more contacts → ambiguous, never merges
    limits: {"record:*": 1, "key:*": 1, email: 10}
    block: {email: [info@acme.example], phone: ["+18005550100"]}
    candidates: {threshold: 0.72}
    auto_merge: {deterministic: true, threshold: 0.9}
```
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.identity.phones import canonical_phone
from hub.identity.similarity import name_similarity

#: Values that never identify anyone, whatever the configuration adds.
DEFAULT_BLOCK: dict[str, tuple[str, ...]] = {
    "email": (
        "test@test.com",
        "noreply@example.com",
        "no-reply@example.com",
        "a@a.com",
        "test@example.com",
        "email@example.com",
        "none@none.com",
        "no@email.com",
    ),
    "phone": ("+10000000000", "+11111111111", "+15555555555", "+11234567890"),
}
#: Whole values (any kind, case-insensitive) that are placeholders, not identifiers.
PLACEHOLDERS = frozenset({"unknown", "none", "null", "n/a", "-"})


class CandidateRules(BaseModel):
    """Probabilistic matching: scores at or above ``threshold`` become candidates that
    an agent or admin confirms. Candidates are never merged without a person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    threshold: float = Field(default=0.72, ge=0.0, le=1.0)


class AutoMergeRules(BaseModel):
    """Merges of two existing contacts made without a person, each recorded with its
    rule, evidence and score, shown by ``explain`` and undone by ``unmerge``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: One record carries keys of these kinds held by two different contacts (its
    #: Salesforce id points at one, its e-mail at the other): merge them, unless the
    #: value is ambiguous, a per-kind limit would break or the name guard refuses.
    deterministic: bool = True
    strong_kinds: list[str] = Field(default_factory=lambda: ["record", "key", "email"])
    #: Probabilistic: the candidate scorer merges a pair scoring at or above this that
    #: also shares a personal e-mail (never a role address such as info@) and whose
    #: names agree; below it, down to ``candidates.threshold``, pairs stay candidates.
    #: None: the scorer never merges.
    threshold: float | None = Field(default=0.9, ge=0.0, le=1.0)
    #: Whether those merges obey ``limits`` too (by default two records one source
    #: keeps apart stay two people, however alike). False lets the scorer merge a
    #: source's own duplicates (two CRM records of one person sharing an e-mail).
    respect_limits: bool = True
    #: Local parts that name a role, not a person: never evidence for a merge.
    role_addresses: list[str] = Field(
        default_factory=lambda: [
            "info", "sales", "support", "contact", "office", "admin", "hello", "team",
            "billing", "reception", "enquiries", "help", "mail", "accounts", "noreply",
        ]
    )  # fmt: skip

    @field_validator("strong_kinds")
    @classmethod
    def _known_strong(cls, value: list[str]) -> list[str]:
        for kind in value:
            if kind not in ("record", "key", "email", "phone") and not kind.startswith("key:"):
                raise ValueError(
                    f"unknown identifier kind {kind!r} (record, key, key:<name>, email, phone)"
                )
        return value

    def is_role_email(self, value: str) -> bool:
        return value.partition("@")[0].lower() in self.role_addresses

    def strong(self, kind: str) -> bool:
        family = kind.split(":", 1)[0]
        return kind in self.strong_kinds or family in self.strong_kinds


class IdentityRules(BaseModel):
    """How records become contacts. See the module docstring for a config example."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Evidence tried in this order: ``record`` (the source record's own link),
    #: ``key`` (every ``key:*``), ``key:<name>`` (one key, before the others),
    #: ``email``, ``phone``. Kinds not listed come last.
    priority: list[str] = Field(default_factory=lambda: ["record", "key", "email", "phone"])
    #: K: a value held by more than K contacts (a switchboard, info@) is ambiguous:
    #: it never links, merges or suggests anyone. Up to K holders do not link either
    #: (there is no telling which one is meant), but they are candidates of each other.
    max_contacts_per_value: int = Field(default=2, ge=1, le=1000)
    #: Per-identifier limits in the style of Segment's identity rules: a contact holds
    #: at most N distinct values of a kind (glob patterns on the kind). A record whose
    #: value would push a contact over the limit never joins it: two Salesforce
    #: Contacts the source keeps apart are two people, whatever phone they share.
    limits: dict[str, int] = Field(default_factory=lambda: {"record:*": 1, "key:*": 1})
    #: Junk values per kind (``email``, ``phone``, ``key:<name>`` or ``*``), added to
    #: the shipped defaults (``DEFAULT_BLOCK``) unless ``replace_default_block``.
    block: dict[str, list[str]] = Field(default_factory=dict)
    replace_default_block: bool = False
    #: Fold known national phone variants (Brazil's mobile 9, Argentina's mobile 9,
    #: Mexico's old mobile 1) to one canonical number; see hub/identity/phones.py.
    phone_variants: bool = True
    #: Name guard: an e-mail or phone held by one contact does not link a record whose
    #: name is clearly someone else's (name similarity below this; nicknames and
    #: typos pass). Catches the family e-mail and the office number the first
    #: colleague brought in before a second holder made it ambiguous. None: off.
    name_guard: float | None = Field(default=0.6, ge=0.0, le=1.0)
    guarded_kinds: list[str] = Field(default_factory=lambda: ["email", "phone"])
    candidates: CandidateRules = CandidateRules()
    auto_merge: AutoMergeRules = AutoMergeRules()

    @field_validator("priority")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        for kind in value:
            if kind not in ("record", "key", "email", "phone") and not kind.startswith("key:"):
                raise ValueError(
                    f"unknown identifier kind {kind!r} (record, key, key:<name>, email, phone)"
                )
        return value

    @field_validator("limits")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        for kind, limit in value.items():
            if limit < 1:
                raise ValueError(f"limit for {kind!r} must be at least 1")
        return value

    @model_validator(mode="after")
    def _bands(self) -> IdentityRules:
        merge_at = self.auto_merge.threshold
        if merge_at is not None and merge_at < self.candidates.threshold:
            raise ValueError(
                f"auto_merge.threshold ({merge_at}) is below candidates.threshold "
                f"({self.candidates.threshold}): merges must need a higher score"
            )
        return self

    # ----- derived, computed once per rules object -----------------------------------

    @cached_property
    def _blocked(self) -> dict[str, frozenset[str]]:
        kinds: dict[str, set[str]] = {}
        if not self.replace_default_block:
            for kind, shipped in DEFAULT_BLOCK.items():
                kinds.setdefault(kind, set()).update(shipped)
        for kind, configured in self.block.items():
            folded = {v.strip().lower() for v in configured}
            if kind == "phone":
                folded |= {canonical_phone(v) for v in configured}
            kinds.setdefault(kind, set()).update(folded)
        return {k: frozenset(v) for k, v in kinds.items()}

    @cached_property
    def _ranks(self) -> dict[str, int]:
        return {}  # kind → rank, filled as kinds are met (a store has a handful)

    @cached_property
    def _limits(self) -> dict[str, int | None]:
        return {}  # kind → limit, likewise

    def rank(self, kind: str) -> int:
        """Position of ``kind`` in the priority order (exact names before families)."""
        found = self._ranks.get(kind)
        if found is None:
            found = self._ranks[kind] = self._rank(kind)
        return found

    def _rank(self, kind: str) -> int:
        family = kind.split(":", 1)[0]
        for index, name in enumerate(self.priority):
            if name == kind:
                return index * 2
            if name == family:
                return index * 2 + 1
        return len(self.priority) * 2

    def is_junk(self, kind: str, value: str) -> bool:
        """Placeholder or blocked values that must never identify anyone."""
        folded = value.strip().lower()
        if not folded or folded in PLACEHOLDERS:
            return True
        blocked = self._blocked
        if folded in blocked.get(kind, ()) or folded in blocked.get("*", ()):
            return True
        if kind == "phone":
            digits = value.lstrip("+")
            return len(set(digits[-7:])) <= 1
        return False

    def normalise(self, kind: str, value: str) -> tuple[str, str]:
        """The form a key is stored and looked up in (national phone variants folded)."""
        if kind == "phone" and self.phone_variants:
            return kind, canonical_phone(value)
        return kind, value

    def usable(
        self, keys: list[tuple[str, str]] | tuple[tuple[str, str], ...]
    ) -> list[tuple[str, str]]:
        """``keys`` normalised, without junk and duplicates, in their given order."""
        out = [self.normalise(k, v) for k, v in keys]
        return [key for key in dict.fromkeys(out) if not self.is_junk(*key)]

    def limit(self, kind: str) -> int | None:
        """How many distinct values of ``kind`` one contact may hold (None: no limit)."""
        cache = self._limits
        if kind not in cache:
            cache[kind] = self._limit(kind)
        return cache[kind]

    def _limit(self, kind: str) -> int | None:
        if kind in self.limits:
            return self.limits[kind]
        for pattern, limit in self.limits.items():
            if fnmatch.fnmatchcase(kind, pattern):
                return limit
        return None

    def limited_prefixes(self) -> list[str]:
        """SQL LIKE patterns covering every limited kind (for loading held values)."""
        return [p.replace("*", "%") for p in self.limits]


DEFAULT_RULES = IdentityRules()


def names_of(fields: Mapping[str, Any]) -> tuple[str, str] | None:
    """(first, last) of a record's or contact's fields, or None without a full name."""
    first, last = fields.get("first_name") or "", fields.get("last_name") or ""
    if not (first and last):
        display = str(fields.get("display_name") or "").strip()
        if " " in display:
            first, last = display.rsplit(" ", 1)
    return (str(first), str(last)) if first and last else None


def name_guard_refuses(
    rules: IdentityRules,
    kind: str,
    record: tuple[str, str] | None,
    contact: Mapping[str, Any],
) -> bool:
    """Whether the name guard keeps a record named ``record`` from joining ``contact``
    on an identifier of ``kind``."""
    if rules.name_guard is None or record is None or kind not in rules.guarded_kinds:
        return False
    theirs = names_of(contact)
    if theirs is None:
        return False
    return name_similarity(record[0], record[1], theirs[0], theirs[1]) < rules.name_guard


def over_limit(
    rules: IdentityRules, held: dict[str, set[str]], keys: list[tuple[str, str]]
) -> bool:
    """Whether adding ``keys`` to a contact holding ``held`` breaks a per-kind limit.

    Values the contact already holds never count against it (a contact that the
    source itself merged may hold two records of one type and still be found by
    either).
    """
    wanted: dict[str, set[str]] = {}
    for kind, value in keys:
        wanted.setdefault(kind, set()).add(value)
    for kind, values in wanted.items():
        limit = rules.limit(kind)
        if limit is None:
            continue
        have = held.get(kind, set())
        if values - have and len(have | values) > limit:
            return True
    return False
