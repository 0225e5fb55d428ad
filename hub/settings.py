"""Configuration: one YAML file, validated at start-up with errors naming file and key.

Secrets never live in the file: ``${ENV_VAR}`` (or ``${ENV_VAR:-default}``) references
are expanded from the environment, and a reference to an unset variable is an error
at that key path, so a missing secret stops start-up instead of weakening a verifier.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.errors import ConfigError, ConfigIssue
from hub.identity.rules import IdentityRules
from hub.store.db import DEFAULT_DATABASE_URL

DEFAULT_CONFIG_PATH = "config/threadline.yaml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkerSettings(_Strict):
    """How workers claim and retry inbox events."""

    batch_size: int = Field(default=100, ge=1, le=5000)
    lease_seconds: float = Field(default=60, gt=0)
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_base_seconds: float = Field(default=2, gt=0)
    backoff_max_seconds: float = Field(default=3600, gt=0)
    poll_interval_seconds: float = Field(default=0.5, gt=0)


class IntakeSettings(_Strict):
    """The webhook endpoint's limits and proxy trust."""

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    trust_forwarded_headers: bool = False


class RetentionSettings(_Strict):
    """How long personal data the hub only needed for a while is kept (hub/retention.py)."""

    #: Raw HTTP requests (bodies and headers), counted once every event they carried is
    #: processed; requests behind a pending or dead event are kept for replay and audit.
    raw_request_days: int = Field(default=30, ge=1)
    #: Inbox events that are done or ignored (dead letters stay until replayed).
    processed_event_days: int = Field(default=90, ge=1)
    #: Pushes delivered to agents' tools (their payloads are customer context).
    delivered_push_days: int = Field(default=30, ge=1)
    #: How often the scheduler prunes (one scheduler at a time, under a job lock).
    interval_minutes: int = Field(default=60, ge=1, le=24 * 60)


class SchedulerSettings(_Strict):
    """How ``threadline scheduler`` (and ``serve``) runs pull streams."""

    #: How often each scheduler looks for "run now" requests and refreshes job state.
    poll_seconds: float = Field(default=5, gt=0, le=300)
    #: Run every enabled stream once right after start-up, then on its schedule.
    run_on_start: bool = False


class HubSettings(_Strict):
    """Settings of the hub itself (not of any one connector)."""

    database_url: str = DEFAULT_DATABASE_URL
    default_region: str = Field(default="US", min_length=2, max_length=2)
    mappings_dir: str | None = None
    intake: IntakeSettings = IntakeSettings()
    worker: WorkerSettings = WorkerSettings()
    scheduler_enabled: bool = True
    scheduler: SchedulerSettings = SchedulerSettings()
    retention: RetentionSettings = RetentionSettings()
    #: Interactions of one customer less than this apart (any channel) form one journey.
    journey_window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    #: Contact tiers (from mappings) that mark a VIP in routing hints.
    vip_tiers: list[str] = Field(default_factory=lambda: ["vip", "platinum", "gold"])
    #: Identity resolution: priority, merge protection, limits, block-lists, candidates.
    identity: IdentityRules = IdentityRules()

    @field_validator("default_region")
    @classmethod
    def _region_upper(cls, value: str) -> str:
        import phonenumbers

        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}; use an ISO 3166 code such as US or GB")
        return region


class ApiSettings(_Strict):
    """Static bearer tokens for /api/v1 (admin role). Prefer stored tokens:
    ``threadline tokens create --role viewer|operator|admin``."""

    tokens: list[str] = Field(default_factory=list)

    @field_validator("tokens")
    @classmethod
    def _strong_tokens(cls, tokens: list[str]) -> list[str]:
        for token in tokens:
            if len(token) < 16:
                raise ValueError("API tokens must be at least 16 characters")
        return tokens


class AdminSettings(_Strict):
    """The admin dashboard (``/admin``) and ``/metrics``."""

    #: Signs the dashboard's session cookie; required to serve /admin (32+ characters).
    session_secret: str | None = Field(default=None, min_length=32)
    #: A dashboard session ends this many minutes after sign-in.
    session_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60)
    #: Dashboard pages reload themselves this often (0: never).
    refresh_seconds: int = Field(default=15, ge=0, le=3600)
    #: Send the session cookie only over HTTPS (turn on behind TLS).
    secure_cookie: bool = False
    #: Serve /metrics without a token (scrapers inside your network); false: a viewer
    #: token is required.
    metrics_public: bool = True

    @field_validator("session_secret", mode="before")
    @classmethod
    def _unset_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class LoggingSettings(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class Schedule(_Strict):
    """When a pull stream runs: every ``interval_seconds`` or on a ``cron`` line."""

    interval_seconds: int | None = Field(default=None, ge=10)
    cron: str | None = None
    enabled: bool = True

    def model_post_init(self, _context: Any) -> None:
        if (self.interval_seconds is None) == (self.cron is None):
            raise ValueError("give exactly one of interval_seconds or cron")


class ConnectorInstance(_Strict):
    """One configured connector: a name (used in URLs), a type and its settings."""

    name: str = Field(pattern=_NAME)
    type: str
    settings: dict[str, Any] = Field(default_factory=dict)
    streams: dict[str, Schedule] = Field(default_factory=dict)
    mappings: dict[str, str] = Field(default_factory=dict)
    push_targets: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("type")
    @classmethod
    def _registered(cls, value: str) -> str:
        from hub.registry import connector_type

        try:
            connector_type(value)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        return value


class PopRoute(_Strict):
    """Send pops matching ``match`` (desk, agent, channel, connector; all must match)
    to ``targets``."""

    match: dict[Literal["desk", "agent", "channel", "connector"], str] = Field(default_factory=dict)
    targets: list[str] = Field(min_length=1)


class PopWebhook(_Strict):
    """A signed outbound webhook (Standard Webhooks) that receives pops."""

    name: str = Field(pattern=_NAME)
    url: str = Field(pattern=r"^https?://")
    secret: str = Field(min_length=1)
    allow_private: bool = False
    allow_cidrs: list[str] = Field(default_factory=list)
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)


class PopSettings(_Strict):
    """Where screen pops go. Target names: ``panel``, ``webhook:<name>``,
    ``<connector>:<push target>`` (e.g. ``salesforce-prod:salesforce_pop``)."""

    routes: list[PopRoute] = Field(default_factory=list)
    default_targets: list[str] = Field(default_factory=lambda: ["panel"])
    webhooks: list[PopWebhook] = Field(default_factory=list)
    #: Signs agent-panel links (``threadline agent link <agent>``); required for /agent.
    panel_secret: str | None = Field(default=None, min_length=16)

    @field_validator("panel_secret", mode="before")
    @classmethod
    def _unset_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class Settings(_Strict):
    """The whole configuration file."""

    hub: HubSettings = HubSettings()
    api: ApiSettings = ApiSettings()
    admin: AdminSettings = AdminSettings()
    logging: LoggingSettings = LoggingSettings()
    pops: PopSettings = PopSettings()
    connectors: list[ConnectorInstance] = Field(default_factory=list)
    source_file: str = Field(default="<defaults>", exclude=True)

    def connector(self, name: str) -> ConnectorInstance | None:
        return next((c for c in self.connectors if c.name == name), None)


def expand_env(node: Any, env: dict[str, str], path: str, issues: list[ConfigIssue]) -> Any:
    """Replace ``${VAR}`` references in every string of ``node``."""
    if isinstance(node, dict):
        return {k: expand_env(v, env, _join(path, str(k)), issues) for k, v in node.items()}
    if isinstance(node, list):
        return [expand_env(v, env, f"{path}[{i}]", issues) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value is None or value == "":
            if default is not None:
                return default
            state = "is not set" if value is None else "is empty"
            issues.append(ConfigIssue(path, f"environment variable {name} {state}"))
            return ""
        return value

    return _ENV_REF.sub(replace, node)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _pydantic_issues(exc: ValidationError, data: Any) -> list[tuple[str, ConfigIssue]]:
    """Each error as (plain key path, issue whose path names the connector)."""
    issues = []
    for err in exc.errors():
        parts: list[str] = []
        for loc in err["loc"]:
            if isinstance(loc, int):
                parts[-1:] = [f"{parts[-1] if parts else ''}[{loc}]"]
            else:
                parts.append(str(loc))
        path = ".".join(parts)
        message = err["msg"].removeprefix("Value error, ")
        issues.append((path, ConfigIssue(_named_path(path, data), message)))
    return issues


def _covers(outer: str, inner: str) -> bool:
    """Whether key path ``inner`` is ``outer`` or lies below it (``a.b`` covers ``a.b[0]``)."""
    return inner == outer or inner.startswith((f"{outer}.", f"{outer}["))


def _named_path(path: str, data: Any) -> str:
    """Show ``connectors[0]`` as ``connectors[0](name=acme)`` so users find it."""
    match = re.match(r"^connectors\[(\d+)\]", path)
    if match and isinstance(data, dict):
        try:
            name = data["connectors"][int(match.group(1))]["name"]
        except (KeyError, IndexError, TypeError):
            return path
        return path.replace(match.group(0), f"{match.group(0)}(name={name})", 1)
    return path


def settings_from_dict(
    raw: Any, *, source: str = "<dict>", env: dict[str, str] | None = None
) -> Settings:
    """Validate a configuration given as data; raise :class:`ConfigError` on any issue."""
    env = dict(os.environ if env is None else env)
    issues: list[ConfigIssue] = []
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, [ConfigIssue("", "the top level must be a mapping")])
    if "source_file" in raw:  # set by the loader, never by the file
        issues.append(ConfigIssue("source_file", "Extra inputs are not permitted"))
    # A section whose keys are all commented out reads as null: it means "defaults".
    raw = {
        k: v
        for k, v in raw.items()
        if k != "source_file" and not (k in Settings.model_fields and v is None)
    }
    data = expand_env(raw, env, "", issues)
    if env.get("THREADLINE_DATABASE_URL"):
        data.setdefault("hub", {})
        if isinstance(data["hub"], dict):
            data["hub"]["database_url"] = env["THREADLINE_DATABASE_URL"]
    settings = None
    try:
        settings = Settings.model_validate({**data, "source_file": source})
    except ValidationError as exc:
        # An unset variable already explains the failures at its key and above it
        # (an empty token fails the whole ``api.tokens`` list), so report it once.
        env_paths = [i.path for i in issues]
        issues.extend(
            issue
            for plain, issue in _pydantic_issues(exc, data)
            if not any(_covers(plain, p) for p in env_paths)
        )
    issues.extend(_duplicate_names(data))
    issues.extend(_connector_settings_issues(data, [i.path for i in issues]))
    if issues or settings is None:
        raise ConfigError(source, issues)
    return settings


def _duplicate_names(data: dict[str, Any]) -> list[ConfigIssue]:
    """Connector names must be unique (they are URL paths); checked even when other
    problems exist, so that every problem is reported at once."""
    connectors = data.get("connectors")
    if not isinstance(connectors, list):
        return []
    issues = []
    seen: dict[str, int] = {}
    for index, item in enumerate(connectors):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            continue
        if name in seen:
            issues.append(
                ConfigIssue(
                    f"connectors[{index}](name={name}).name",
                    f"connector name {name!r} is already used by connectors[{seen[name]}]",
                )
            )
        else:
            seen[name] = index
    return issues


def _connector_settings_issues(data: dict[str, Any], env_paths: list[str]) -> list[ConfigIssue]:
    """Check each connector's own settings now, so every problem is reported at once,
    at its exact key (``connectors[0](name=x).settings.secret``). Settings under an
    unset variable's key are already explained by that issue."""
    from hub.registry import connector_type, problems

    connectors = data.get("connectors")
    if not isinstance(connectors, list):
        return []
    issues = []
    for index, item in enumerate(connectors):
        if not isinstance(item, dict) or not isinstance(item.get("settings", {}), dict):
            continue  # the model reports the wrong shape
        try:
            cls = connector_type(str(item.get("type")))
        except KeyError:
            continue  # reported at .type
        try:
            cls.settings_model.model_validate(item.get("settings", {}))
        except ValidationError as exc:
            for loc, message in problems(exc):
                plain = f"connectors[{index}].settings{loc}"
                if not any(_covers(plain, p) or _covers(p, plain) for p in env_paths):
                    issues.append(ConfigIssue(_named_path(plain, data), message))
    return issues


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Load ``path`` (default ``$THREADLINE_CONFIG`` or ``config/threadline.yaml``).

    A missing default file is fine (defaults apply); a missing named file is an error.
    """
    explicit = path is not None or bool(os.environ.get("THREADLINE_CONFIG"))
    file = Path(path or os.environ.get("THREADLINE_CONFIG") or DEFAULT_CONFIG_PATH)
    if not file.exists():
        if explicit:
            raise ConfigError(str(file), [ConfigIssue("", "configuration file not found")])
        return settings_from_dict({}, source="<defaults>")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(str(file), [ConfigIssue(where, str(problem))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(file), [ConfigIssue("", f"cannot read: {exc}")]) from None
    return settings_from_dict(raw, source=str(file))
