"""How the sandbox describes an sObject type: fields with the flags it enforces.

The standard objects themselves are declared in :mod:`.objects`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STRING_TYPES = frozenset({"string", "email", "phone", "picklist", "textarea", "url", "combobox"})
ID_TYPES = frozenset({"id", "reference"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})


@dataclass(frozen=True)
class Field:
    """One field as ``describe`` reports it, plus what the sandbox needs to enforce it."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    required: bool = False  # not nillable and not defaulted: REQUIRED_FIELD_MISSING on create
    external_id: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist: tuple[str, ...] = ()
    filterable: bool = True
    sortable: bool = True
    calculated: bool = False

    @property
    def display_label(self) -> str:
        """The label Salesforce shows, derived from the API name when not given."""
        if self.label:
            return self.label
        base = self.name.removesuffix("__c").removesuffix("Id") or self.name
        if self.name.endswith("Id") and self.type == "reference":
            return f"{base} ID"
        words = []
        for i, char in enumerate(base.replace("_", " ")):
            prev = base[i - 1] if i else ""
            if i and char.isupper() and prev.islower():
                words.append(" ")
            words.append(char)
        return "".join(words)


@dataclass(frozen=True)
class SObjectType:
    """An sObject type: name, key prefix and fields keyed by lower-cased name."""

    name: str
    key_prefix: str
    label: str
    label_plural: str
    fields: tuple[Field, ...]
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True
    is_platform_event: bool = False
    by_lower: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_lower.update({f.name.lower(): f for f in self.fields})

    def field(self, name: str) -> Field | None:
        """Look a field up case-insensitively, as SOQL and the REST API do."""
        return self.by_lower.get(name.lower())

    def relationship(self, name: str) -> Field | None:
        """Find the reference field whose relationship name is ``name`` (``Account``)."""
        lowered = name.lower()
        for candidate in self.fields:
            if candidate.relationship_name and candidate.relationship_name.lower() == lowered:
                return candidate
        return None
