"""Declarative field mappings: one YAML file per source object.

A mapping file says what a source record becomes (``target: contact`` or
``target: interaction``), which source path feeds each unified field and through
which named transforms, and which values identify the customer. Files are validated
when loaded, with errors naming the file, the line and the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from hub.errors import ConfigError, ConfigIssue
from hub.transforms import NEEDS_ARGUMENT, TRANSFORMS, TransformContext

CONTACT_FIELDS = {"display_name", "first_name", "last_name", "company", "language", "tier"}
INTERACTION_FIELDS = {
    "channel",
    "direction",
    "occurred_at",
    "status",
    "summary",
    "agent",
}
CHANNELS = {"voice", "sms", "whatsapp", "social", "email", "chat", "crm-activity"}
DIRECTIONS = {"inbound", "outbound", "internal"}
IDENTIFIER_KINDS = re.compile(r"^(email|phone|key:[a-z0-9_]+)$")
RECORD_KIND = re.compile(r"^record:[a-z0-9_]+$")
_PATH = re.compile(r"^[A-Za-z0-9_$@-]+(\[(\d+|\*)\])?(\.[A-Za-z0-9_$@-]+(\[(\d+|\*)\])?)*$")
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")


@dataclass(frozen=True)
class FieldRule:
    """One unified field: source paths (tried in order, all kept) or a constant."""

    paths: tuple[str, ...]
    constant: Any = None
    transforms: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class MappedRecord:
    """The result of mapping one source record, before identity resolution."""

    target: str
    fields: dict[str, Any]
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    contact_keys: list[tuple[str, str]] = field(default_factory=list)


#: A rule made ready to run: all the non-empty values it yields for one record.
Plan = Callable[[Mapping[str, Any], TransformContext], list[Any]]


@dataclass(frozen=True)
class Mapping_:
    """A validated mapping file.

    Each rule is also turned once into a :data:`Plan` (:func:`plan`): a backfill maps
    every record of a page through the same few rules, and walking the rule's
    description for each record cost about as much as the phone parsing itself.
    """

    file: str
    target: str
    fields: dict[str, FieldRule]
    identifiers: dict[str, FieldRule]
    contact: dict[str, FieldRule]
    _plans: tuple[tuple[tuple[str, Plan], ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plans = tuple(
            tuple((name, plan(rule)) for name, rule in rules.items())
            for rules in (self.fields, self.identifiers, self.contact)
        )
        object.__setattr__(self, "_plans", plans)

    def apply(self, data: Mapping[str, Any], ctx: TransformContext) -> MappedRecord:
        """Map ``data``; pure, total on any JSON-shaped input."""
        fields_plan, identifiers_plan, contact_plan = self._plans
        fields = {}
        for name, run in fields_plan:
            values = run(data, ctx)
            if values:
                fields[name] = values[0]
        if self.target == "interaction":
            # channel and direction are closed sets; a value outside them is dropped
            # (the store then uses its default) rather than stored as a new channel.
            for name, allowed in (("channel", CHANNELS), ("direction", DIRECTIONS)):
                if name in fields and str(fields[name]) not in allowed:
                    del fields[name]
        return MappedRecord(
            target=self.target,
            fields=fields,
            identifiers=_pairs(identifiers_plan, data, ctx),
            contact_keys=_pairs(contact_plan, data, ctx),
        )


def _pairs(
    plans: tuple[tuple[str, Plan], ...],
    data: Mapping[str, Any],
    ctx: TransformContext,
) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for kind, run in plans:
        for value in run(data, ctx):
            pair = (kind, str(value))
            if pair not in pairs:
                pairs.append(pair)
    return pairs


def resolve_path(data: Any, path: str) -> list[Any]:
    """Values at ``path`` (``a.b[0].c``, ``phones[*].number``); [] when absent."""
    steps = _steps(path)
    if steps[1]:  # plain dotted names: one walk, no lists
        node = data
        for name in steps[0]:
            if not isinstance(node, Mapping) or name not in node:
                return []
            node = node[name]
        return [] if node is None else [node]
    current: list[Any] = [data]
    for name, index in steps[0]:
        following: list[Any] = []
        for node in current:
            if name:
                if isinstance(node, Mapping) and name in node:
                    following.append(node[name])
            elif isinstance(node, list):
                if index == "*":
                    following.extend(node)
                elif int(index) < len(node):
                    following.append(node[int(index)])
        current = following
    return [v for v in current if v is not None]


@lru_cache(maxsize=1024)
def _steps(path: str) -> tuple[tuple[Any, ...], bool]:
    """A path split once: (names, True) for plain dotted names, else (steps, False)."""
    steps = tuple(_STEP.findall(path))
    if all(name and not index for name, index in steps):
        return tuple(name for name, _ in steps), True
    return steps, False


def evaluate(rule: FieldRule, data: Mapping[str, Any], ctx: TransformContext) -> list[Any]:
    """All non-empty values a rule yields for ``data`` (several for ``[*]`` paths)."""
    return plan(rule)(data, ctx)


Getter = Callable[[Any], list[Any]]


def _getter(path: str) -> Getter:
    """:func:`resolve_path` for one path, with the path's steps bound in advance; plain
    dotted names (nearly every path) walk dicts with ``get`` and no list building."""
    steps, plain = _steps(path)
    if not plain:
        return lambda data: resolve_path(data, path)
    names: tuple[str, ...] = steps

    def get(data: Any) -> list[Any]:
        node = data
        for name in names:
            if type(node) is dict:
                node = node.get(name)
            elif isinstance(node, Mapping) and name in node:
                node = node[name]
            else:
                return []
            if node is None:  # absent, or null on the way: nothing at the path
                return []
        return [node]

    return get


def plan(rule: FieldRule) -> Plan:
    """``rule`` ready to run: its getters and transforms looked up once.

    The same as reading each path with :func:`resolve_path` and running the named
    transforms over each value; a structure (dict or list) met by a rule with
    transforms is skipped (a mapping bug, never an exception); ``None`` and ``""``
    are dropped.
    """
    steps = tuple((TRANSFORMS[name], arg) for name, arg in rule.transforms)
    source: Getter
    if not rule.paths:
        constant = rule.constant
        source = lambda _data: [constant]  # noqa: E731 - a one-line getter
    elif len(rule.paths) == 1:
        source = _getter(rule.paths[0])
    else:
        getters = tuple(_getter(path) for path in rule.paths)
        source = lambda data: [v for get in getters for v in get(data)]  # noqa: E731

    if not steps:
        return lambda data, _ctx: [v for v in source(data) if v is not None and v != ""]

    def run(data: Mapping[str, Any], ctx: TransformContext) -> list[Any]:
        results = []
        for value in source(data):
            if isinstance(value, dict | list):
                continue  # a transform on a structure is a mapping bug; skip, never raise
            for transform, arg in steps:
                value = transform(value, arg, ctx)
            if value is not None and value != "":
                results.append(value)
        return results

    return run


# ----- loading and validation -----------------------------------------------------


def _at(line: int | None) -> str:
    return f"line {line}: " if line else ""


def _line_of(node: yaml.Node | None, *keys: str) -> int | None:
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        found = None
        for key_node, value_node in node.value:
            if key_node.value == key:
                found = (key_node, value_node)
                break
        if found is None:
            return None
        node = found[1]
        last = found[0]
    return last.start_mark.line + 1 if keys else None


def _parse_rule(spec: Any, where: str, issues: list[str]) -> FieldRule | None:
    if isinstance(spec, str):
        spec = {"path": spec}
    if not isinstance(spec, dict):
        issues.append(f"{where}: expected a path or a mapping with 'path' or 'value'")
        return None
    unknown = set(spec) - {"path", "paths", "value", "transforms"}
    if unknown:
        issues.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    paths = spec.get("paths", [spec["path"]] if "path" in spec else [])
    if not paths and "value" not in spec:
        issues.append(f"{where}: give 'path', 'paths' or 'value'")
        return None
    if not isinstance(paths, list):
        issues.append(f"{where}: 'paths' must be a list of paths")
        return None
    for path in paths:
        if not isinstance(path, str) or not _PATH.match(path):
            issues.append(f"{where}: invalid path {path!r} (use a.b[0].c or list[*].field)")
            return None
    transforms = _parse_transforms(spec.get("transforms"), where, issues)
    if transforms is None:
        return None
    return FieldRule(paths=tuple(paths), constant=spec.get("value"), transforms=tuple(transforms))


def _parse_transforms(items: Any, where: str, issues: list[str]) -> list[tuple[str, Any]] | None:
    if items is None:
        return []
    if not isinstance(items, list):
        issues.append(f"{where}: 'transforms' must be a list, e.g. [trim, lower]")
        return None
    transforms: list[tuple[str, Any]] = []
    for item in items:
        name, arg = (
            next(iter(item.items())) if isinstance(item, dict) and len(item) == 1 else (item, None)
        )
        if not isinstance(name, str) or name not in TRANSFORMS:
            known = ", ".join(sorted(TRANSFORMS))
            issues.append(f"{where}: unknown transform {name!r} (known: {known})")
            continue
        problem = _argument_problem(name, arg)
        if problem:
            issues.append(f"{where}: transform {name!r} {problem}")
        transforms.append((name, arg))
    return transforms


def _argument_problem(name: str, arg: Any) -> str | None:
    if name in NEEDS_ARGUMENT and arg is None:
        return f"needs an argument ({{{name}: ...}})"
    if name == "enum" and not isinstance(arg, dict):
        return "needs a mapping of source value to unified value ({enum: {a: b}})"
    if name == "phone" and arg is not None:
        import phonenumbers

        if str(arg).upper() not in phonenumbers.SUPPORTED_REGIONS:
            return f"has unknown region {arg!r} (use an ISO 3166 code such as US or GB)"
    return None


def _rules(
    section: Any, name: str, allowed: Any, node: yaml.Node | None, issues: list[str]
) -> dict[str, FieldRule]:
    rules: dict[str, FieldRule] = {}
    if section is None:
        return rules
    if not isinstance(section, dict):
        issues.append(f"{_at(_line_of(node, name))}{name}: expected a mapping")
        return rules
    for key, spec in section.items():
        where = f"{_at(_line_of(node, name, str(key)))}{name}.{key}"
        ok = allowed(str(key)) if callable(allowed) else str(key) in allowed
        if not ok:
            issues.append(f"{where}: unknown field {key!r}")
            continue
        rule = _parse_rule(spec, where, issues)
        if rule is not None:
            rules[str(key)] = rule
    return rules


def _contact_fields(key: str) -> bool:
    return key in CONTACT_FIELDS or key.startswith("attributes.")


def _interaction_fields(key: str) -> bool:
    return key in INTERACTION_FIELDS or key.startswith("data.")


def _contact_keys(key: str) -> bool:
    """An interaction finds its contact by identifiers or by ``record:<object type>``,
    a record of the same connector (``record:contact: {path: contact.id}``)."""
    return bool(IDENTIFIER_KINDS.match(key) or RECORD_KIND.match(key))


def _interaction_problems(
    raw: dict[Any, Any],
    fields: dict[str, FieldRule],
    contact: dict[str, FieldRule],
    node: yaml.Node | None,
) -> list[str]:
    """What an interaction mapping lacks; lines point at the section (or ``target``)."""
    problems = []
    fields_line = _line_of(node, "fields") or _line_of(node, "target")
    section = raw.get("fields")
    raw_fields: dict[Any, Any] = section if isinstance(section, dict) else {}
    for required in ("channel", "occurred_at"):
        # a field that failed to parse was already reported at its own line
        if required not in fields and required not in raw_fields:
            problems.append(
                f"{_at(fields_line)}fields.{required}: required for an interaction mapping"
            )
    for name, allowed in (("channel", CHANNELS), ("direction", DIRECTIONS)):
        rule = fields.get(name)
        if rule is not None and not rule.paths and str(rule.constant) not in allowed:
            known = ", ".join(sorted(allowed))
            line = _line_of(node, "fields", name)
            problems.append(f"{_at(line)}fields.{name}: {rule.constant!r} is not one of {known}")
    if not contact and raw.get("contact") in (None, {}):  # else reported entry by entry
        line = _line_of(node, "contact") or _line_of(node, "target")
        problems.append(
            f"{_at(line)}contact: an interaction mapping must say how to find its contact"
        )
    return problems


def load_mapping(path: str | Path) -> Mapping_:
    """Load and validate one mapping file; raise ConfigError naming file and line."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        node = yaml.compose(text)
        raw = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, [ConfigIssue("", f"cannot read mapping: {exc}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        message = f"not valid YAML ({problem})" if problem else "not valid YAML"
        raise ConfigError(file, [ConfigIssue(where, message)]) from None
    issues: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError(file, [ConfigIssue("", "a mapping file must be a YAML mapping")])
    unknown = set(raw) - {"target", "fields", "identifiers", "contact", "description"}
    for key in sorted(unknown, key=str):
        issues.append(f"{_at(_line_of(node, str(key)))}unknown top-level key {key!r}")
    target = raw.get("target")
    if target not in ("contact", "interaction"):
        line = _line_of(node, "target") or 1
        issues.append(f"line {line}: target: must be contact or interaction, not {target!r}")
    allowed = _contact_fields if target == "contact" else _interaction_fields
    fields = _rules(raw.get("fields"), "fields", allowed, node, issues)
    identifiers = _rules(
        raw.get("identifiers"),
        "identifiers",
        lambda k: bool(IDENTIFIER_KINDS.match(k)),
        node,
        issues,
    )
    contact = _rules(raw.get("contact"), "contact", _contact_keys, node, issues)
    if target == "interaction":
        issues.extend(_interaction_problems(raw, fields, contact, node))
    if issues:
        raise ConfigError(file, [ConfigIssue("", message) for message in issues])
    return Mapping_(
        file=file, target=str(target), fields=fields, identifiers=identifiers, contact=contact
    )
