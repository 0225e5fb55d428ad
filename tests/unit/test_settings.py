"""Configuration: defaults, ${VAR} expansion, errors naming file and key, connectors, CLI."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, SecretStr

from hub import registry
from hub.cli import main
from hub.errors import ConfigError, ConfigIssue
from hub.plugin import Connector, Page, Stream
from hub.registry import build_connectors
from hub.settings import (
    ApiSettings,
    ConnectorInstance,
    Schedule,
    Settings,
    load_settings,
    settings_from_dict,
)
from hub.store.db import DEFAULT_DATABASE_URL

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "threadline.example.yaml"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TOKEN = "a-strong-api-token-0123"


def issues_of(raw: Any, env: dict[str, str] | None = None) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        settings_from_dict(raw, source="threadline.yaml", env=env or {})
    assert caught.value.file == "threadline.yaml"
    return caught.value.issues


def paths_of(issues: list[ConfigIssue]) -> list[str]:
    return [issue.path for issue in issues]


def connector(name: str = "events", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "standard_webhooks", "settings": {"secret": SECRET}, **extra}


# ----- defaults -------------------------------------------------------------------


def test_empty_configuration_gives_documented_defaults() -> None:
    settings = settings_from_dict({}, env={})
    assert settings.hub.database_url == DEFAULT_DATABASE_URL
    assert settings.hub.default_region == "US"
    assert settings.hub.mappings_dir is None
    assert settings.hub.scheduler_enabled is True
    assert settings.hub.intake.max_body_bytes == 1_048_576
    assert settings.hub.intake.trust_forwarded_headers is False
    assert settings.hub.worker.batch_size == 100
    assert settings.hub.worker.max_attempts == 8
    assert settings.api.tokens == []
    assert (settings.logging.level, settings.logging.format) == ("INFO", "json")
    assert settings.connectors == []


def test_none_is_read_as_an_empty_file() -> None:
    assert settings_from_dict(None, env={}) == settings_from_dict({}, env={})


def test_section_with_every_key_commented_out_means_defaults() -> None:
    settings = settings_from_dict({"hub": None, "api": None, "connectors": None}, env={})
    assert settings.hub.default_region == "US"
    assert settings.connectors == []


def test_source_file_is_recorded_and_not_settable_from_the_file() -> None:
    assert settings_from_dict({}, source="x.yaml", env={}).source_file == "x.yaml"
    issues = issues_of({"source_file": "other.yaml"})
    assert paths_of(issues) == ["source_file"]


def test_top_level_must_be_a_mapping() -> None:
    issues = issues_of(["not", "a", "mapping"])
    assert [i.message for i in issues] == ["the top level must be a mapping"]


def test_settings_are_frozen() -> None:
    settings = settings_from_dict({}, env={})
    with pytest.raises(ValueError, match="frozen"):
        settings.hub.default_region = "GB"  # type: ignore[misc]


def test_connector_lookup_by_name() -> None:
    settings = settings_from_dict({"connectors": [connector("a"), connector("b")]}, env={})
    found = settings.connector("b")
    assert found is not None
    assert found.name == "b"
    assert settings.connector("missing") is None


# ----- ${VAR} expansion -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("${REGION}", {"REGION": "GB"}, "GB"),
        ("${REGION:-BR}", {}, "BR"),
        ("${REGION:-BR}", {"REGION": ""}, "BR"),
        ("${REGION:-BR}", {"REGION": "GB"}, "GB"),
        ("g${LETTER}", {"LETTER": "b"}, "GB"),
        ("${A}${B}", {"A": "n", "B": "z"}, "NZ"),
        ("US", {"US": "ignored"}, "US"),
    ],
    ids=[
        "set",
        "default-when-unset",
        "default-when-empty",
        "set-beats-default",
        "inside",
        "two",
        "plain",
    ],
)
def test_env_references_are_expanded(value: str, env: dict[str, str], expected: str) -> None:
    settings = settings_from_dict({"hub": {"default_region": value}}, env=env)
    assert settings.hub.default_region == expected


def test_env_references_are_expanded_in_nested_dicts_and_lists() -> None:
    raw = {
        "api": {"tokens": ["${T1}", "literal-token-0123456789"]},
        "connectors": [
            {
                "name": "${NAME}",
                "type": "standard_webhooks",
                "settings": {"secret": "${SECRET}", "previous_secrets": ["${OLD:-" + SECRET + "}"]},
                "push_targets": [{"url": "https://${HOST}/pop"}],
            }
        ],
    }
    env = {"T1": TOKEN, "NAME": "events", "SECRET": SECRET, "HOST": "crm.example"}
    settings = settings_from_dict(raw, env=env)
    assert settings.api.tokens == [TOKEN, "literal-token-0123456789"]
    only = settings.connectors[0]
    assert only.name == "events"
    assert only.settings == {"secret": SECRET, "previous_secrets": [SECRET]}
    assert only.push_targets == [{"url": "https://crm.example/pop"}]


def test_non_string_values_pass_through_expansion() -> None:
    settings = settings_from_dict({"hub": {"worker": {"batch_size": 7}}}, env={})
    assert settings.hub.worker.batch_size == 7


def test_expanded_text_is_then_validated_as_its_field_type() -> None:
    settings = settings_from_dict({"hub": {"worker": {"batch_size": "${B:-12}"}}}, env={})
    assert settings.hub.worker.batch_size == 12


def test_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLINE_TEST_REGION", "gb")
    monkeypatch.delenv("THREADLINE_DATABASE_URL", raising=False)
    settings = settings_from_dict({"hub": {"default_region": "${THREADLINE_TEST_REGION}"}})
    assert settings.hub.default_region == "GB"


def test_unset_env_var_is_reported_with_file_and_key() -> None:
    raw = {
        "connectors": [
            {
                "name": "events",
                "type": "standard_webhooks",
                "settings": {"secret": "${WEBHOOK_SECRET}"},
            }
        ]
    }
    with pytest.raises(ConfigError) as caught:
        settings_from_dict(raw, source="config/threadline.yaml", env={})
    error = caught.value
    assert error.issues == [
        ConfigIssue(
            "connectors[0].settings.secret", "environment variable WEBHOOK_SECRET is not set"
        )
    ]
    assert "config/threadline.yaml: connectors[0].settings.secret" in str(error)
    assert "WEBHOOK_SECRET" in str(error)


def test_empty_env_var_without_default_is_reported_as_empty() -> None:
    issues = issues_of({"hub": {"default_region": "${REGION}"}}, env={"REGION": ""})
    assert issues == [ConfigIssue("hub.default_region", "environment variable REGION is empty")]


def test_unset_token_is_reported_once_without_the_follow_on_length_error() -> None:
    issues = issues_of({"api": {"tokens": ["${THREADLINE_API_TOKEN}"]}})
    assert issues == [
        ConfigIssue("api.tokens[0]", "environment variable THREADLINE_API_TOKEN is not set")
    ]


def test_unset_connector_name_is_reported_once_without_the_pattern_error() -> None:
    issues = issues_of({"connectors": [connector("${NAME}")]})
    assert issues == [ConfigIssue("connectors[0].name", "environment variable NAME is not set")]


def test_unset_var_does_not_hide_errors_at_sibling_keys() -> None:
    raw = {"hub": {"default_region": "${REGION}", "default_region_x": 1}}
    assert sorted(paths_of(issues_of(raw))) == ["hub.default_region", "hub.default_region_x"]


def test_every_unset_variable_is_reported() -> None:
    raw = {"api": {"tokens": ["${A}", "${B}"]}, "hub": {"database_url": "${C}"}}
    assert sorted(paths_of(issues_of(raw))) == [
        "api.tokens[0]",
        "api.tokens[1]",
        "hub.database_url",
    ]


# ----- validation errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        ({"bogus": 1}, "bogus", "Extra inputs are not permitted"),
        ({"hub": {"databse_url": "x"}}, "hub.databse_url", "Extra inputs are not permitted"),
        ({"hub": {"worker": {"retries": 3}}}, "hub.worker.retries", "Extra inputs"),
        ({"connectors": [connector(colour="red")]}, "connectors[0](name=events).colour", "Extra"),
        ({"hub": {"default_region": "XX"}}, "hub.default_region", "unknown region 'XX'"),
        ({"hub": {"default_region": "USA"}}, "hub.default_region", "at most 2 characters"),
        ({"api": {"tokens": ["short"]}}, "api.tokens", "at least 16 characters"),
        ({"logging": {"level": "LOUD"}}, "logging.level", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ({"logging": {"format": "xml"}}, "logging.format", "'json' or 'text'"),
        ({"hub": {"worker": {"batch_size": 0}}}, "hub.worker.batch_size", "greater than or equal"),
        ({"hub": {"intake": {"max_body_bytes": 10}}}, "hub.intake.max_body_bytes", "1024"),
        ({"connectors": [{"name": "x"}]}, "connectors[0](name=x).type", "Field required"),
        (
            {"connectors": [{"type": "standard_webhooks", "settings": {"secret": SECRET}}]},
            "connectors[0].name",
            "Field required",
        ),
        ({"hub": "sqlite://"}, "hub", "valid dictionary"),
    ],
    ids=lambda v: v if isinstance(v, str) and "." in v else None,
)
def test_invalid_value_is_reported_at_its_key(raw: Any, path: str, message: str) -> None:
    issues = issues_of(raw)
    assert paths_of(issues) == [path]
    assert message in issues[0].message


@pytest.mark.parametrize("region", ["gb", "Gb", "BR", "de"])
def test_default_region_is_upper_cased(region: str) -> None:
    assert settings_from_dict({"hub": {"default_region": region}}, env={}).hub.default_region == (
        region.upper()
    )


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("events", True),
        ("my-crm_2", True),
        ("0day", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("Events", False),
        ("-events", False),
        ("_events", False),
        ("my crm", False),
        ("crm/evil", False),
        ("", False),
    ],
)
def test_connector_name_must_be_url_safe_lower_case(name: str, ok: bool) -> None:
    raw = {"connectors": [connector(name)]}
    if ok:
        assert settings_from_dict(raw, env={}).connectors[0].name == name
    else:
        issues = issues_of(raw)
        assert paths_of(issues) == [f"connectors[0](name={name}).name"]
        assert "pattern" in issues[0].message


def test_several_problems_are_reported_at_once() -> None:
    raw = {
        "hub": {"default_region": "XX", "worker": {"batch_size": -1}},
        "api": {"tokens": ["short"], "extra": True},
        "logging": {"level": "LOUD"},
        "connectors": [connector("Bad Name")],
        "surprise": 1,
    }
    assert sorted(paths_of(issues_of(raw))) == [
        "api.extra",
        "api.tokens",
        "connectors[0](name=Bad Name).name",
        "hub.default_region",
        "hub.worker.batch_size",
        "logging.level",
        "surprise",
    ]


def test_config_error_message_lists_every_issue_with_the_file() -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_dict({"a": 1, "b": 2}, source="conf.yaml", env={})
    text = str(caught.value)
    assert "2 problem(s)" in text
    assert "conf.yaml: a: Extra inputs are not permitted" in text
    assert "conf.yaml: b: Extra inputs are not permitted" in text


def test_duplicate_connector_names_are_reported_at_the_second_one() -> None:
    raw = {"connectors": [connector("a"), connector("b"), connector("a")]}
    issues = issues_of(raw)
    assert issues == [
        ConfigIssue(
            "connectors[2](name=a).name", "connector name 'a' is already used by connectors[0]"
        )
    ]


def test_duplicate_connector_names_are_reported_alongside_other_problems() -> None:
    raw = {"hub": {"default_region": "XX"}, "connectors": [connector("a"), connector("a")]}
    assert sorted(paths_of(issues_of(raw))) == ["connectors[1](name=a).name", "hub.default_region"]


def test_api_tokens_of_sixteen_characters_are_accepted() -> None:
    assert ApiSettings(tokens=["x" * 16]).tokens == ["x" * 16]
    with pytest.raises(ValueError, match="at least 16"):
        ApiSettings(tokens=["x" * 16, "x" * 15])


# ----- schedules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "ok"),
    [
        ({"interval_seconds": 300}, True),
        ({"cron": "*/15 * * * *"}, True),
        ({"cron": "0 * * * *", "enabled": False}, True),
        ({}, False),
        ({"enabled": True}, False),
        ({"interval_seconds": 300, "cron": "* * * * *"}, False),
    ],
    ids=["interval", "cron", "cron-paused", "neither", "only-enabled", "both"],
)
def test_schedule_needs_exactly_one_of_interval_or_cron(schedule: dict[str, Any], ok: bool) -> None:
    raw = {"connectors": [connector(streams={"contacts": schedule})]}
    if ok:
        built = settings_from_dict(raw, env={}).connectors[0].streams["contacts"]
        assert built == Schedule(**schedule)
    else:
        issues = issues_of(raw)
        assert issues == [
            ConfigIssue(
                "connectors[0](name=events).streams.contacts",
                "give exactly one of interval_seconds or cron",
            )
        ]


def test_schedule_interval_below_ten_seconds_is_refused() -> None:
    issues = issues_of({"connectors": [connector(streams={"c": {"interval_seconds": 5}})]})
    assert paths_of(issues) == ["connectors[0](name=events).streams.c.interval_seconds"]


# ----- THREADLINE_DATABASE_URL ----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [{}, {"hub": {"database_url": "sqlite:///from-file.db"}}, {"hub": None}],
    ids=["no-hub-section", "file-value", "null-hub-section"],
)
def test_database_url_env_var_overrides_the_file(raw: dict[str, Any]) -> None:
    env = {"THREADLINE_DATABASE_URL": "postgresql://db/threadline"}
    assert settings_from_dict(raw, env=env).hub.database_url == "postgresql://db/threadline"


def test_empty_database_url_env_var_keeps_the_file_value() -> None:
    raw = {"hub": {"database_url": "sqlite:///from-file.db"}}
    env = {"THREADLINE_DATABASE_URL": ""}
    assert settings_from_dict(raw, env=env).hub.database_url == "sqlite:///from-file.db"


# ----- load_settings ----------------------------------------------------------------------


@pytest.fixture
def no_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("THREADLINE_CONFIG", "THREADLINE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_config_env")
def test_load_settings_reads_a_yaml_file(tmp_path: Path) -> None:
    file = tmp_path / "conf.yaml"
    file.write_text("hub:\n  default_region: gb\nlogging:\n  format: text\n", encoding="utf-8")
    settings = load_settings(file)
    assert settings.source_file == str(file)
    assert (settings.hub.default_region, settings.logging.format) == ("GB", "text")


@pytest.mark.usefixtures("no_config_env")
def test_load_settings_of_an_empty_file_gives_defaults(tmp_path: Path) -> None:
    file = tmp_path / "empty.yaml"
    file.write_text("# nothing here\n", encoding="utf-8")
    assert load_settings(file).hub == settings_from_dict({}, env={}).hub


@pytest.mark.usefixtures("no_config_env")
def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    file = tmp_path / "broken.yaml"
    file.write_text("hub:\n  default_region: [US\nlogging: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(file)
    assert caught.value.file == str(file)
    [issue] = caught.value.issues
    assert re.fullmatch(r"line \d+, column \d+", issue.path)
    assert issue.message


@pytest.mark.usefixtures("no_config_env")
def test_yaml_tab_indentation_error_points_at_the_tab(tmp_path: Path) -> None:
    file = tmp_path / "tabs.yaml"
    file.write_text("hub:\n\tdefault_region: US\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(file)
    assert caught.value.issues[0].path == "line 2, column 1"


@pytest.mark.usefixtures("no_config_env")
def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_settings(missing)
    assert caught.value.file == str(missing)
    assert caught.value.issues == [ConfigIssue("", "configuration file not found")]


def test_missing_file_named_by_threadline_config_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREADLINE_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings()


def test_threadline_config_env_var_selects_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "chosen.yaml"
    file.write_text("hub: {default_region: BR}\n", encoding="utf-8")
    monkeypatch.setenv("THREADLINE_CONFIG", str(file))
    monkeypatch.delenv("THREADLINE_DATABASE_URL", raising=False)
    assert load_settings().hub.default_region == "BR"


@pytest.mark.usefixtures("no_config_env")
def test_missing_default_file_gives_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no config/threadline.yaml here
    settings = load_settings()
    assert settings.source_file == "<defaults>"
    assert settings.hub.database_url == DEFAULT_DATABASE_URL


@pytest.mark.usefixtures("no_config_env")
def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path)  # a directory


@pytest.mark.usefixtures("no_config_env")
def test_file_validation_errors_name_the_file(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("hub:\n  default_region: XX\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(file)
    assert caught.value.file == str(file)
    assert f"{file}: hub.default_region: unknown region" in str(caught.value)


# ----- the example configuration cannot drift from the models ----------------------------


def _model_of(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """('direct' | 'list' | 'dict', model) when a field holds models, else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "direct", annotation
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (list, dict) and args:
        inner = _model_of(args[-1])
        if inner is not None:
            return ("list" if origin is list else "dict"), inner[1]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _model_of(args[0])
    return None


def _undocumented(model: type[BaseModel], node: Any, prefix: str, text: str) -> Iterator[str]:
    for name, info in model.model_fields.items():
        if name == "source_file":
            continue
        key = f"{prefix}{name}"
        if isinstance(node, Mapping):
            if name not in node:
                yield key
                continue
            child = node[name]
        elif not re.search(rf"\b{re.escape(name)}:", text):
            yield f"{key} (not even in a comment)"
            continue
        else:
            child = None
        nested = _model_of(info.annotation)
        if nested is None:
            continue
        kind, sub = nested
        if kind == "list" and isinstance(child, list) and child:
            child = child[0]
        elif kind != "direct" or not isinstance(child, Mapping):
            child = None  # e.g. streams: {}: the keys must then be shown in a comment
        yield from _undocumented(sub, child, f"{key}.", text)


def test_example_config_documents_every_settings_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = list(_undocumented(Settings, yaml.safe_load(text), "", text))
    assert missing == []


def test_drift_check_notices_a_key_missing_from_the_example() -> None:
    text = "hub: {}\nconnectors: []\n"
    missing = list(_undocumented(Settings, yaml.safe_load(text), "", text))
    assert "hub.database_url" in missing
    assert "connectors.name (not even in a comment)" in missing


def test_example_config_is_valid_with_its_variables_set() -> None:
    env = {"STANDARD_WEBHOOKS_SECRET": SECRET, "THREADLINE_API_TOKEN": TOKEN}
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    settings = settings_from_dict(raw, source=str(EXAMPLE), env=env)
    assert settings.api.tokens == [TOKEN]
    assert [c.name for c in settings.connectors] == ["demo-events"]
    assert set(build_connectors(settings)) == {"demo-events"}


# ----- registry: build_connectors --------------------------------------------------------


class PullSettings(BaseModel):
    api_key: SecretStr
    page_size: int = 100


class ContactsStream(Stream):
    name = "contacts"
    object_type = "contact"

    def read(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        yield Page(cursor={"after": 1})


class PullConnector(Connector):
    type_name = "unit_pull"
    description = "a test connector with one pull stream"
    settings_model = PullSettings

    def streams(self) -> list[Stream]:
        return [ContactsStream()]


class RefusingConnector(Connector):
    type_name = "unit_refusing"
    description = "a test connector whose constructor refuses its settings"
    settings_model = PullSettings

    def __init__(self, name: str, settings: BaseModel) -> None:
        raise ValueError("page_size must divide 1000")


@pytest.fixture
def test_types(monkeypatch: pytest.MonkeyPatch) -> None:
    for cls in (PullConnector, RefusingConnector):
        monkeypatch.setitem(registry._EXTRA, cls.type_name, cls)


def build_issues(*instances: dict[str, Any], at_load: bool = True) -> list[ConfigIssue]:
    """Issues from build_connectors; with ``at_load``, settings_from_dict must report the
    same ones up front (type and settings problems; streams need a built connector)."""
    settings = Settings.model_construct(
        connectors=[ConnectorInstance.model_construct(**i) for i in instances],
        source_file="c.yaml",
    )
    with pytest.raises(ConfigError) as caught:
        build_connectors(settings)
    assert caught.value.file == "c.yaml"
    if at_load:
        from_file = issues_of({"connectors": list(instances)})
        assert sorted(paths_of(from_file)) == sorted(paths_of(caught.value.issues))
    return caught.value.issues


def test_standard_webhooks_connector_is_built_from_config() -> None:
    settings = settings_from_dict({"connectors": [connector("events")]}, env={})
    built = build_connectors(settings)
    assert list(built) == ["events"]
    assert built["events"].name == "events"
    assert built["events"].type_name == "standard_webhooks"


def test_no_connectors_builds_nothing() -> None:
    assert build_connectors(settings_from_dict({}, env={})) == {}


def test_unknown_connector_type_names_the_key_and_lists_known_types() -> None:
    [issue] = build_issues({"name": "x", "type": "acme"})
    assert issue.path == "connectors[0](name=x).type"
    assert "no connector type named 'acme'" in issue.message
    assert "standard_webhooks" in issue.message


def test_connector_type_lookup_error_is_clear() -> None:
    with pytest.raises(KeyError, match=r"no connector type named 'nope' \(known: .*standard"):
        registry.connector_type("nope")


def test_standard_webhooks_is_registered_through_its_entry_point() -> None:
    assert registry.connector_types()["standard_webhooks"].type_name == "standard_webhooks"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "Field required"),
        ({"secret": "whsec_!!!not-base64!!!"}, "not a usable Standard Webhooks secret"),
        ({"secret": ""}, "not a usable Standard Webhooks secret"),
    ],
    ids=["missing", "not-base64", "empty"],
)
def test_bad_standard_webhooks_secret_is_reported_at_settings_secret(
    settings: dict[str, Any], message: str
) -> None:
    [issue] = build_issues({"name": "events", "type": "standard_webhooks", "settings": settings})
    assert issue.path == "connectors[0](name=events).settings.secret"
    assert message in issue.message
    assert not issue.message.startswith("Value error")


def test_bad_previous_secret_is_reported_with_its_index() -> None:
    settings = {"secret": SECRET, "previous_secrets": [SECRET, "whsec_%%%"]}
    [issue] = build_issues({"name": "e", "type": "standard_webhooks", "settings": settings})
    assert issue.path.startswith("connectors[0](name=e).settings.previous_secrets")
    assert "not a usable Standard Webhooks secret" in issue.message


def test_unknown_connector_setting_is_reported() -> None:
    settings = {"secret": SECRET, "secert": "typo"}
    [issue] = build_issues({"name": "e", "type": "standard_webhooks", "settings": settings})
    assert issue.path == "connectors[0](name=e).settings.secert"


def test_secret_value_never_appears_in_the_error() -> None:
    bad = "whsec_supersecretvalueX"  # 23 base64 characters: cannot be decoded
    issues = build_issues({"name": "e", "type": "standard_webhooks", "settings": {"secret": bad}})
    assert all("supersecretvalue" not in str(issue) for issue in issues)


def test_stream_the_connector_does_not_declare_is_reported() -> None:
    [issue] = build_issues(
        {
            "name": "events",
            "type": "standard_webhooks",
            "settings": {"secret": SECRET},
            "streams": {"contacts": {"interval_seconds": 60}},
        },
        at_load=False,
    )
    assert issue.path == "connectors[0](name=events).streams.contacts"
    assert issue.message == "no such stream (known: none)"


@pytest.mark.usefixtures("test_types")
def test_declared_stream_is_accepted_and_an_undeclared_one_lists_the_known() -> None:
    ok = {
        "name": "crm",
        "type": "unit_pull",
        "settings": {"api_key": "k"},
        "streams": {"contacts": {"cron": "*/5 * * * *"}},
    }
    built = build_connectors(settings_from_dict({"connectors": [ok]}, env={}))
    assert built["crm"].capabilities["streams"] == ["contacts"]
    bad = {**ok, "streams": {"deals": {"interval_seconds": 60}}}
    [issue] = build_issues(bad, at_load=False)
    assert issue == ConfigIssue(
        "connectors[0](name=crm).streams.deals", "no such stream (known: contacts)"
    )


@pytest.mark.usefixtures("test_types")
def test_constructor_value_error_is_reported_at_settings() -> None:
    [issue] = build_issues(
        {"name": "r", "type": "unit_refusing", "settings": {"api_key": "k"}}, at_load=False
    )
    assert issue == ConfigIssue("connectors[0](name=r).settings", "page_size must divide 1000")


@pytest.mark.usefixtures("test_types")
def test_every_connector_problem_is_reported_at_once() -> None:
    issues = build_issues(
        {"name": "a", "type": "acme"},
        {"name": "b", "type": "unit_pull", "settings": {"page_size": "many"}},
        connector("c"),
        {"name": "d", "type": "standard_webhooks"},
    )
    assert sorted(paths_of(issues)) == [
        "connectors[0](name=a).type",
        "connectors[1](name=b).settings.api_key",
        "connectors[1](name=b).settings.page_size",
        "connectors[3](name=d).settings.secret",
    ]


def test_connector_instance_defaults_are_empty_and_independent() -> None:
    first = ConnectorInstance(name="a", type="standard_webhooks")
    second = ConnectorInstance(name="b", type="standard_webhooks")
    assert (first.settings, first.streams, first.mappings, first.push_targets) == ({}, {}, {}, [])
    assert first.settings is not second.settings


# ----- CLI: threadline config check ------------------------------------------------------


def test_config_check_accepts_the_example_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STANDARD_WEBHOOKS_SECRET", SECRET)
    monkeypatch.setenv("THREADLINE_API_TOKEN", TOKEN)
    monkeypatch.delenv("THREADLINE_DATABASE_URL", raising=False)
    assert main(["--config", str(EXAMPLE), "config", "check"]) == 0
    out, err = capsys.readouterr()
    assert f"{EXAMPLE}: OK (1 connector(s))" in out
    assert "demo-events (standard_webhooks)" in out
    assert err == ""


@pytest.mark.parametrize(
    ("unset", "key"),
    [
        ("STANDARD_WEBHOOKS_SECRET", "connectors[0].settings.secret"),
        ("THREADLINE_API_TOKEN", "api.tokens[0]"),
    ],
)
def test_config_check_names_file_and_key_of_an_unset_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], unset: str, key: str
) -> None:
    monkeypatch.setenv("STANDARD_WEBHOOKS_SECRET", SECRET)
    monkeypatch.setenv("THREADLINE_API_TOKEN", TOKEN)
    monkeypatch.delenv(unset)
    assert main(["--config", str(EXAMPLE), "config", "check"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{EXAMPLE}: {key}: environment variable {unset} is not set" in err
    assert "1 problem(s)" in err


def test_config_check_reports_a_short_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STANDARD_WEBHOOKS_SECRET", SECRET)
    monkeypatch.setenv("THREADLINE_API_TOKEN", "too-short")
    assert main(["--config", str(EXAMPLE), "config", "check"]) == 2
    assert "api.tokens: API tokens must be at least 16 characters" in capsys.readouterr().err


def test_config_check_reports_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.yaml"
    assert main(["--config", str(missing), "config", "check"]) == 2
    assert f"{missing}: configuration file not found" in capsys.readouterr().err
