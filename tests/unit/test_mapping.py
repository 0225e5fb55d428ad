"""Mapping files and transforms: paths, every transform, validation, shipped mappings."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import ConfigError
from hub.mapping import FieldRule, MappedRecord, evaluate, load_mapping, resolve_path
from hub.mappings import MappingSet
from hub.registry import build_connectors
from hub.settings import settings_from_dict
from hub.transforms import NEEDS_ARGUMENT, TRANSFORMS, TransformContext, parse_datetime

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "mappings" / "standard_webhooks"
US = TransformContext("US")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def run(name: str, value: Any, arg: Any = None, region: str = "US") -> Any:
    return TRANSFORMS[name](value, arg, TransformContext(region))


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_issues(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    assert caught.value.file == str(path)
    assert str(path) in str(caught.value)
    return [str(issue) for issue in caught.value.issues]


# ----- resolve_path -------------------------------------------------------------------

DOC = {
    "name": "Ada",
    "zero": 0,
    "empty": "",
    "none": None,
    "contact": {"address": {"city": "London"}},
    "phones": [{"number": "1"}, {"number": "2"}, {"kind": "fax"}, {"number": None}],
    "tags": ["a", "b", None],
    "grid": [[1, 2], [3]],
    "$meta": {"@id": "x-1"},
}


RESOLVE_CASES: list[tuple[str, list[Any]]] = [
    ("name", ["Ada"]),
    ("zero", [0]),
    ("empty", [""]),
    ("none", []),
    ("contact.address.city", ["London"]),
    ("contact.address", [{"city": "London"}]),
    ("phones[0].number", ["1"]),
    ("phones[1].number", ["2"]),
    ("phones[9].number", []),
    ("phones[*].number", ["1", "2"]),
    ("tags[*]", ["a", "b"]),
    ("tags[1]", ["b"]),
    ("grid[*]", [[1, 2], [3]]),
    ("$meta.@id", ["x-1"]),
    ("missing", []),
    ("contact.missing.city", []),
    ("name.first", []),
    ("name[0]", []),
    ("contact[*]", []),
    ("tags.length", []),
]
RESOLVE_CASES_PATHS = [path for path, _ in RESOLVE_CASES]


@pytest.mark.parametrize(("path", "expected"), RESOLVE_CASES)
def test_resolve_path(path: str, expected: list[Any]) -> None:
    assert resolve_path(DOC, path) == expected


def test_resolve_path_on_a_non_mapping_root_is_empty() -> None:
    assert resolve_path(["a"], "a") == []
    assert resolve_path(None, "a.b") == []
    assert resolve_path("text", "[0]") == []


# ----- transforms -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("  Ada  ", "Ada"), ("Ada", "Ada"), ("   ", None), ("", None), (None, None), (42, "42")],
)
def test_trim(value: Any, expected: Any) -> None:
    assert run("trim", value) == expected


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("lower", "MiXeD", "mixed"),
        ("lower", None, None),
        ("upper", "gb", "GB"),
        ("upper", None, None),
        ("string", 42, "42"),
        ("string", True, "True"),
        ("string", None, None),
    ],
)
def test_case_and_string_transforms(name: str, value: Any, expected: Any) -> None:
    assert run(name, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        ("  ada@example.com \n", "ada@example.com"),
        ("ada.lovelace+crm@mail.example.co.uk", "ada.lovelace+crm@mail.example.co.uk"),
        ("ada@example", None),
        ("ada@@example.com", None),
        ("ada example@example.com", None),
        ("not an address", None),
        ("", None),
        (None, None),
        (12345, None),
    ],
)
def test_email_is_lower_cased_and_junk_is_dropped(value: Any, expected: Any) -> None:
    assert run("email", value) == expected


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("(415) 555-0142", "US", "+14155550142"),
        ("415-555-0142", "US", "+14155550142"),
        ("415.555.0142", "US", "+14155550142"),
        ("4155550142", "US", "+14155550142"),
        (4155550142, "US", "+14155550142"),
        ("1 415 555 0142", "US", "+14155550142"),
        ("+1 (415) 555-0142", "GB", "+14155550142"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("0044 20 7946 0958", "US", "+442079460958"),
        ("0044 20 7946 0958", "GB", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("(11) 91234-5678", "BR", "+5511912345678"),
        ("+1 (415) 555-0142 ext. 12", "US", "+14155550142"),
        ("415-555-0142 x7", "US", "+14155550142"),
        ("  +14155550142  ", "US", "+14155550142"),
    ],
)
def test_phone_is_normalised_to_e164(value: Any, region: str, expected: str) -> None:
    assert run("phone", value, region=region) == expected


@pytest.mark.parametrize(
    "value",
    [
        "415-555-CALL",
        "1-800-FLOWERS",
        "call me: 415 555 0142",
        "4155550142x",
        "n/a",
        "unknown",
        "0000000",
        "+1 000 000 0000",
        "555-0142",
        "123",
        "+",
        "",
        "   ",
        None,
        "1" * 80,
        "+999 1234567",
    ],
)
def test_phone_junk_becomes_none(value: Any) -> None:
    assert run("phone", value) is None


def test_phone_region_argument_overrides_the_default_region() -> None:
    assert run("phone", "(11) 91234-5678", "BR", region="US") == "+5511912345678"
    assert run("phone", "(11) 91234-5678", "br", region="US") == "+5511912345678"
    assert run("phone", "020 7946 0958", "GB", region="US") == "+442079460958"
    assert run("phone", "020 7946 0958", None, region="US") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00+00:00"),
        ("2024-01-01T00:00:00.000+0000", "2024-01-01T00:00:00+00:00"),
        ("2024-01-01T05:30:00.000+0530", "2024-01-01T00:00:00+00:00"),
        ("2024-01-01T00:00:00-05:00", "2024-01-01T05:00:00+00:00"),
        ("2024-01-01T00:00:00", "2024-01-01T00:00:00+00:00"),
        ("2024-01-01", "2024-01-01T00:00:00+00:00"),
        (1704067200, "2024-01-01T00:00:00+00:00"),
        (1704067200.5, "2024-01-01T00:00:00.500000+00:00"),
        ("1704067200", "2024-01-01T00:00:00+00:00"),
        (" 1704067200 ", "2024-01-01T00:00:00+00:00"),
        (1704067200000, "2024-01-01T00:00:00+00:00"),
        ("1704067200000", "2024-01-01T00:00:00+00:00"),
        ("1704067201000", "2024-01-01T00:00:01+00:00"),
    ],
)
def test_datetime_becomes_iso_utc(value: Any, expected: str) -> None:
    assert run("datetime", value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "junk",
        "",
        None,
        True,
        "2024-13-01T00:00:00Z",
        "2024-02-30",
        "²",
        "١٢٣",
        10**400,
        float("nan"),
        float("inf"),
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:00:00-05:00",
        [1704067200],
        {"at": 1},
    ],
)
def test_datetime_junk_becomes_none(value: Any) -> None:
    assert run("datetime", value) is None


def test_parse_datetime_always_answers_aware_utc() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    plus_two = timezone(timedelta(hours=2))
    assert parse_datetime(datetime(2024, 1, 1, 2, tzinfo=plus_two)) == datetime(
        2024, 1, 1, tzinfo=UTC
    )
    naive = parse_datetime(datetime(2024, 1, 1))
    assert naive is not None
    assert naive.utcoffset() == timedelta(0)
    parsed = parse_datetime("2024-01-01T02:00:00+02:00")
    assert parsed is not None
    assert parsed.tzinfo is UTC


TIERS = {"G": "gold", "s": "silver", "1": "one", "true": "yes", "_default": "other"}


@pytest.mark.parametrize(
    ("value", "table", "expected"),
    [
        ("G", TIERS, "gold"),
        ("g", TIERS, "gold"),
        ("S", TIERS, "silver"),
        ("x", TIERS, "other"),
        (1, TIERS, "one"),
        (True, {True: "yes"}, "yes"),
        (2, {2: "two"}, "two"),
        ("x", {"a": "b"}, "x"),
        (None, {"a": "b"}, None),
        (None, {"_default": "d"}, "d"),
        ("a", ["a", "b"], "a"),
        ("a", None, "a"),
    ],
)
def test_enum_maps_values_with_default(value: Any, table: Any, expected: Any) -> None:
    assert run("enum", value, table) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "n/a"), ("", "n/a"), ("x", "x"), (0, 0), (False, False)]
)
def test_default_fills_only_missing_values(value: Any, expected: Any) -> None:
    assert run("default", value, "n/a") == expected


def test_every_transform_is_total_on_odd_scalars() -> None:
    for name, transform in TRANSFORMS.items():
        for value in (None, "", 0, -1, 1.5, True, "x" * 300, "\x00", "😀"):
            transform(value, {"a": "b"} if name == "enum" else None, US)


# ----- evaluate -------------------------------------------------------------------------


def test_evaluate_constant_value() -> None:
    assert evaluate(FieldRule(paths=(), constant="voice"), {}, US) == ["voice"]
    assert evaluate(FieldRule(paths=(), constant=None), {}, US) == []


def test_evaluate_keeps_values_of_every_path_in_order() -> None:
    rule = FieldRule(paths=("b", "a"), transforms=(("trim", None),))
    assert evaluate(rule, {"a": " 1 ", "b": "2"}, US) == ["2", "1"]


def test_evaluate_drops_values_that_transform_to_nothing() -> None:
    rule = FieldRule(paths=("xs[*]",), transforms=(("trim", None),))
    assert evaluate(rule, {"xs": ["a", "  ", "", "b"]}, US) == ["a", "b"]


def test_evaluate_skips_structures_when_transforms_are_given() -> None:
    rule = FieldRule(paths=("x",), transforms=(("lower", None),))
    assert evaluate(rule, {"x": {"nested": "A"}}, US) == []
    assert evaluate(rule, {"x": ["A"]}, US) == []


def _read_only(node: Any) -> Any:
    """``node`` with every dict behind a read-only Mapping that is not a dict."""
    if isinstance(node, dict):
        return MappingProxyType({k: _read_only(v) for k, v in node.items()})
    if isinstance(node, list):
        return [_read_only(v) for v in node]
    return node


@pytest.mark.parametrize("path", RESOLVE_CASES_PATHS)
@pytest.mark.parametrize("doc", [DOC, _read_only(DOC)], ids=["dict", "mapping"])
def test_evaluate_reads_what_resolve_path_reads(path: str, doc: Any) -> None:
    """A rule's prepared getter (plain paths walk dicts directly) agrees with
    resolve_path on every path above, on dicts and on other Mappings, empty text
    dropped."""
    expected = [v for v in resolve_path(DOC, path) if v != ""]
    got = evaluate(FieldRule(paths=(path,)), doc, US)
    assert got == [_read_only(v) for v in expected]


# ----- load_mapping: valid files ----------------------------------------------------------


def test_contact_mapping_with_paths_list_and_star_identifiers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        target: contact
        description: test
        fields:
          display_name: name
          first_name: {paths: [given_name, first_name], transforms: [trim]}
          tier: {path: level, transforms: [{enum: {g: gold, _default: standard}}]}
          language: {value: en}
          attributes.source: {value: crm}
        identifiers:
          email: {paths: [email, "emails[*].address"], transforms: [email]}
          phone: {path: "phones[*]", transforms: [{phone: GB}]}
          key:crm_id: {path: id, transforms: [string]}
        """,
    )
    mapping = load_mapping(path)
    payload = {
        "name": "Ada L",
        "first_name": " Ada ",
        "level": "G",
        "id": 7,
        "email": "ADA@example.com",
        "emails": [{"address": "ada@example.com"}, {"address": "a@work.example"}, {}],
        "phones": ["020 7946 0958", "+44 20 7946 0958", "nope", "+1 415 555 0142"],
    }
    assert mapping.apply(payload, US) == MappedRecord(
        target="contact",
        fields={
            "display_name": "Ada L",
            "first_name": "Ada",
            "tier": "gold",
            "language": "en",
            "attributes.source": "crm",
        },
        identifiers=[
            ("email", "ada@example.com"),
            ("email", "a@work.example"),
            ("phone", "+442079460958"),
            ("phone", "+14155550142"),
            ("key:crm_id", "7"),
        ],
        contact_keys=[],
    )


def test_first_path_with_a_value_wins_for_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        target: contact
        fields:
          first_name: {paths: [preferred, given], transforms: [trim]}
        """,
    )
    mapping = load_mapping(path)
    assert mapping.apply({"preferred": "  ", "given": "Ada"}, US).fields == {"first_name": "Ada"}
    assert mapping.apply({"preferred": "Al", "given": "Ada"}, US).fields == {"first_name": "Al"}
    assert mapping.apply({}, US).fields == {}


INTERACTION = """
target: interaction
fields:
  channel: {path: kind, transforms: [lower, {enum: {call: voice, text: sms}}]}
  direction: {path: dir, transforms: [lower]}
  occurred_at: {path: at, transforms: [datetime]}
  data.duration: {path: seconds}
contact:
  record:contact: {path: who.id}
  phone: {path: who.phone, transforms: [phone]}
"""


def test_interaction_mapping_maps_fields_and_contact_keys(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, INTERACTION))
    record = mapping.apply(
        {
            "kind": "CALL",
            "dir": "Outbound",
            "at": 1704067200000,
            "seconds": 42,
            "who": {"id": "c-1", "phone": "(415) 555-0142"},
        },
        US,
    )
    assert record == MappedRecord(
        target="interaction",
        fields={
            "channel": "voice",
            "direction": "outbound",
            "occurred_at": "2024-01-01T00:00:00+00:00",
            "data.duration": 42,
        },
        identifiers=[],
        contact_keys=[("record:contact", "c-1"), ("phone", "+14155550142")],
    )


@pytest.mark.parametrize(
    ("kind", "direction", "expected"),
    [
        ("fax", "inbound", {"direction": "inbound"}),
        ("text", "sideways", {"channel": "sms"}),
    ],
)
def test_channel_and_direction_outside_their_closed_sets_are_dropped(
    tmp_path: Path, kind: str, direction: str, expected: dict[str, str]
) -> None:
    mapping = load_mapping(write(tmp_path, INTERACTION))
    fields = mapping.apply({"kind": kind, "dir": direction}, US).fields
    assert fields == expected


def test_star_identifiers_are_deduplicated_after_normalising(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        target: contact
        identifiers:
          phone: {paths: [phone, "phones[*]"], transforms: [phone]}
          email: {path: "emails[*]", transforms: [email]}
        """,
    )
    record = load_mapping(path).apply(
        {
            "phone": "+1 415 555 0142",
            "phones": ["(415) 555-0142", "415.555.0142", "+14155550143"],
            "emails": ["A@x.example", "a@x.example ", "b@x.example"],
        },
        US,
    )
    assert record.identifiers == [
        ("phone", "+14155550142"),
        ("phone", "+14155550143"),
        ("email", "a@x.example"),
        ("email", "b@x.example"),
    ]


# ----- load_mapping: validation errors name file, line and field --------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            """
            target: contact
            fields:
              first_name: {path: a}
              shoe_size: {path: b}
            """,
            "line 4: fields.shoe_size: unknown field 'shoe_size'",
        ),
        (
            """
            target: contact
            fields:
              first_name: {path: a, transforms: [trim, capitalise]}
            """,
            "line 3: fields.first_name: unknown transform 'capitalise'",
        ),
        (
            """
            target: contact
            fields:
              first_name: {path: a, transforms: trim}
            """,
            "line 3: fields.first_name: 'transforms' must be a list",
        ),
        (
            """
            target: contact
            fields:
              first_name: {path: "a..b"}
            """,
            "line 3: fields.first_name: invalid path 'a..b'",
        ),
        (
            """
            target: contact
            fields:
              first_name: {paths: [a, "b[x]"]}
            """,
            "line 3: fields.first_name: invalid path 'b[x]'",
        ),
        (
            """
            target: contact
            fields:
              first_name: {paths: a}
            """,
            "line 3: fields.first_name: 'paths' must be a list of paths",
        ),
        (
            """
            target: contact
            fields:
              first_name: {transforms: [trim]}
            """,
            "line 3: fields.first_name: give 'path', 'paths' or 'value'",
        ),
        (
            """
            target: contact
            fields:
              first_name: {path: a, colour: red}
            """,
            "line 3: fields.first_name: unknown key(s) colour",
        ),
        (
            """
            target: contact
            fields:
              first_name: 7
            """,
            "line 3: fields.first_name: expected a path or a mapping",
        ),
        (
            """
            target: contact
            fields:
              tier: {path: t, transforms: [enum]}
            """,
            "line 3: fields.tier: transform 'enum' needs an argument",
        ),
        (
            """
            target: contact
            fields:
              tier: {path: t, transforms: [{enum: [gold, silver]}]}
            """,
            "line 3: fields.tier: transform 'enum' needs a mapping",
        ),
        (
            """
            target: contact
            fields:
              tier: {path: t, transforms: [default]}
            """,
            "line 3: fields.tier: transform 'default' needs an argument",
        ),
        (
            """
            target: contact
            identifiers:
              phone: {path: p, transforms: [{phone: XX}]}
            """,
            "line 3: identifiers.phone: transform 'phone' has unknown region 'XX'",
        ),
        (
            """
            target: contact
            identifiers:
              fax: {path: f}
            """,
            "line 3: identifiers.fax: unknown field 'fax'",
        ),
        (
            """
            target: contact
            fields: [first_name]
            """,
            "line 2: fields: expected a mapping",
        ),
        (
            """
            target: contact
            extras: {}
            """,
            "line 2: unknown top-level key 'extras'",
        ),
        (
            """
            target: account
            """,
            "line 1: target: must be contact or interaction, not 'account'",
        ),
        (
            """
            fields:
              first_name: {path: a}
            """,
            "line 1: target: must be contact or interaction, not None",
        ),
        (
            """
            target: interaction
            fields:
              occurred_at: {path: at}
            contact:
              email: {path: e}
            """,
            "line 2: fields.channel: required for an interaction mapping",
        ),
        (
            """
            target: interaction
            fields:
              channel: {value: voice}
            contact:
              email: {path: e}
            """,
            "line 2: fields.occurred_at: required for an interaction mapping",
        ),
        (
            """
            target: interaction
            fields:
              channel: {value: fax}
              occurred_at: {path: at}
            contact:
              email: {path: e}
            """,
            "line 3: fields.channel: 'fax' is not one of",
        ),
        (
            """
            target: interaction
            fields:
              channel: {value: voice}
              occurred_at: {path: at}
            """,
            "line 1: contact: an interaction mapping must say how to find its contact",
        ),
        (
            """
            target: interaction
            fields:
              channel: {value: voice}
              occurred_at: {path: at}
            contact: {}
            """,
            "line 5: contact: an interaction mapping must say how to find its contact",
        ),
        (
            """
            target: interaction
            fields:
              channel: {value: voice}
              occurred_at: {path: at}
            contact:
              record:Contact: {path: id}
            """,
            "line 6: contact.record:Contact: unknown field 'record:Contact'",
        ),
        (
            """
            target: contact
            fields:
              channel: {path: c}
            """,
            "line 3: fields.channel: unknown field 'channel'",
        ),
    ],
    ids=lambda v: v.split(": ", 2)[-1][:40] if v.startswith("line") else None,
)
def test_invalid_mapping_is_reported_with_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    issues = load_issues(tmp_path, text)
    assert any(issue.startswith(expected) for issue in issues), issues


def test_every_mapping_problem_is_reported_at_once(tmp_path: Path) -> None:
    issues = load_issues(
        tmp_path,
        """
        target: contact
        fields:
          first_name: {path: a, transforms: [nope]}
          shoe_size: {path: b}
        identifiers:
          fax: {path: f}
        """,
    )
    assert [i.split(":")[0] for i in issues] == ["line 3", "line 4", "line 6"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("target: contact\nfields:\n  a: [b\n", "line 4, column 1"),
        ("target: contact\n\tfields: {}\n", "line 2, column 1"),
        ("target: contact\n---\ntarget: interaction\n", "line 2, column 1"),
    ],
    ids=["unclosed-list", "tab", "two-documents"],
)
def test_bad_yaml_is_reported_with_file_and_line(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    assert caught.value.file == str(path)
    [issue] = caught.value.issues
    assert issue.path == where
    assert issue.message.startswith("not valid YAML")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", ""])
def test_mapping_file_must_be_a_yaml_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_mapping(path)


def test_missing_mapping_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read mapping"):
        load_mapping(tmp_path / "absent.yaml")


# ----- the shipped mappings -------------------------------------------------------------


def test_shipped_contact_mapping_maps_a_sample_payload() -> None:
    mapping = load_mapping(SHIPPED / "contact.yaml")
    payload = {
        "id": "crm-1",
        "first_name": " Ada ",
        "last_name": "Lovelace",
        "name": "Ada Lovelace",
        "company": "Analytical Engines",
        "language": " EN ",
        "tier": "Gold ",
        "email": "Ada@Example.com",
        "emails": ["ada@example.com", "ADA@work.example", "not-an-address"],
        "phone": "(415) 555-0142",
        "phones": ["+1 415 555 0142", "+44 20 7946 0958", "n/a"],
        "keys": {"customer_number": " 42 "},
        "updated_at": "2026-11-22T10:00:00Z",
    }
    assert mapping.apply(payload, US) == MappedRecord(
        target="contact",
        fields={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "display_name": "Ada Lovelace",
            "company": "Analytical Engines",
            "language": "en",
            "tier": "gold",
        },
        identifiers=[
            ("email", "ada@example.com"),
            ("email", "ada@work.example"),
            ("phone", "+14155550142"),
            ("phone", "+442079460958"),
            ("key:customer_number", "42"),
        ],
        contact_keys=[],
    )


def test_shipped_interaction_mapping_maps_a_sample_payload() -> None:
    mapping = load_mapping(SHIPPED / "interaction.yaml")
    payload = {
        "id": "call-1",
        "channel": "Voice",
        "direction": "Inbound",
        "occurred_at": "2026-11-22T10:00:00Z",
        "status": " Ringing ",
        "summary": "  Billing question ",
        "agent": "agent-7",
        "contact": {"id": "crm-1", "email": "ADA@example.com", "phone": "(415) 555-0142"},
    }
    assert mapping.apply(payload, US) == MappedRecord(
        target="interaction",
        fields={
            "channel": "voice",
            "direction": "inbound",
            "occurred_at": "2026-11-22T10:00:00+00:00",
            "status": "ringing",
            "summary": "Billing question",
            "agent": "agent-7",
        },
        identifiers=[],
        contact_keys=[
            ("record:contact", "crm-1"),
            ("email", "ada@example.com"),
            ("phone", "+14155550142"),
        ],
    )


def test_shipped_mapping_uses_the_configured_default_region() -> None:
    mapping = load_mapping(SHIPPED / "contact.yaml")
    record = mapping.apply({"phone": "020 7946 0958"}, TransformContext("GB"))
    assert record.identifiers == [("phone", "+442079460958")]
    assert mapping.apply({"phone": "020 7946 0958"}, US).identifiers == []


def test_shipped_mapping_of_an_empty_payload_is_empty() -> None:
    for name in ("contact", "interaction"):
        record = load_mapping(SHIPPED / f"{name}.yaml").apply({}, US)
        assert (record.fields, record.identifiers, record.contact_keys) == ({}, [], [])


# ----- MappingSet ---------------------------------------------------------------------


def mapping_set(tmp_path: Path, mappings_dir: Path, **instance: Any) -> MappingSet:
    raw = {
        "hub": {"mappings_dir": str(mappings_dir)},
        "connectors": [
            {"name": "events", "type": "standard_webhooks", "settings": {"secret": SECRET}}
            | instance
        ],
    }
    settings = settings_from_dict(raw, source=str(tmp_path / "t.yaml"), env={})
    return MappingSet(settings, build_connectors(settings))


def test_mapping_set_loads_every_object_type_of_each_connector(tmp_path: Path) -> None:
    found = mapping_set(tmp_path, REPO / "mappings")
    contact = found.get("events", "contact")
    interaction = found.get("events", "interaction")
    assert contact is not None
    assert contact.target == "contact"
    assert interaction is not None
    assert interaction.target == "interaction"
    assert found.get("events", "deal") is None
    assert found.get("other", "contact") is None


def test_mapping_set_uses_a_per_connector_override(tmp_path: Path) -> None:
    override = write(tmp_path, "target: contact\nfields:\n  tier: {value: vip}\n", name="mine.yaml")
    found = mapping_set(tmp_path, REPO / "mappings", mappings={"contact": str(override)})
    contact = found.get("events", "contact")
    assert contact is not None
    assert contact.file == str(override)
    assert contact.apply({}, US).fields == {"tier": "vip"}


def test_mapping_set_reports_missing_and_invalid_files_with_the_connector(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "maps" / "standard_webhooks"
    folder.mkdir(parents=True)
    (folder / "contact.yaml").write_text("target: contact\nbogus: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        mapping_set(tmp_path, tmp_path / "maps")
    assert caught.value.file == str(tmp_path / "t.yaml")
    text = [str(issue) for issue in caught.value.issues]
    assert len(text) == 2
    assert text[0].startswith("connectors[0](name=events).mappings.contact (")
    assert "line 2: unknown top-level key 'bogus'" in text[0]
    assert text[1].startswith("connectors[0](name=events).mappings.interaction")
    assert "mapping file not found" in text[1]


# ----- apply() is total -------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["(415) 555-0142", "2024-01-01T00:00:00.000+0000", "1704067200000", "²"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
known_keys = st.sampled_from(
    ["channel", "occurred_at", "phone", "phones", "emails", "email", "contact", "x", "tier"]
)
payloads = st.dictionaries(known_keys | st.text(max_size=8), json_values, max_size=8)

EVERYTHING = """
target: interaction
fields:
  channel: {paths: [channel, "x[*].channel"], transforms: [trim, lower, {enum: {call: voice}}]}
  direction: {path: contact, transforms: [{default: inbound}]}
  occurred_at: {path: occurred_at, transforms: [datetime]}
  status: {path: "x[0]", transforms: [upper, {enum: {_default: other}}]}
  summary: {path: "phones[*]", transforms: [string, trim]}
  data.raw: {path: x}
contact:
  phone: {paths: [phone, "phones[*]", "contact.phone"], transforms: [{phone: GB}]}
  email: {paths: [email, "emails[*]"], transforms: [email]}
  record:contact: {path: "contact.id", transforms: [trim]}
  key:tier: {path: tier, transforms: [datetime]}
"""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=payloads)
def test_apply_never_raises_on_json_like_input(payload: dict[str, Any]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        everything = load_mapping(write(Path(folder), EVERYTHING))
    for mapping in (
        everything,
        load_mapping(SHIPPED / "contact.yaml"),
        load_mapping(SHIPPED / "interaction.yaml"),
    ):
        record = mapping.apply(payload, US)
        assert all(value is not None and value != "" for value in record.fields.values())
        assert all(isinstance(v, str) for _, v in record.identifiers + record.contact_keys)


@settings(max_examples=80, deadline=None)
@given(value=json_scalars, name=st.sampled_from(sorted(TRANSFORMS)))
def test_each_transform_never_raises(value: Any, name: str) -> None:
    arg = {"a": "b", "_default": "z"} if name in NEEDS_ARGUMENT else None
    TRANSFORMS[name](value, arg, US)
