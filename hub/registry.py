"""Find connector types through the ``threadline.connectors`` entry points.

The hub never imports a connector by name: shipped and third-party connectors
register the same way, and are loaded lazily by alias (APScheduler's pattern).
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from pydantic import ValidationError

from hub.errors import ConfigError, ConfigIssue
from hub.plugin import Connector
from hub.settings import ConnectorInstance, Settings

ENTRY_POINT_GROUP = "threadline.connectors"


@cache
def connector_types() -> dict[str, type[Connector]]:
    """All registered connector types by name (loaded once per process)."""
    found: dict[str, type[Connector]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise TypeError(f"entry point {ep.name!r} ({ep.value}) is not a Connector")
        found[ep.name] = cls
    return found


_EXTRA: dict[str, type[Connector]] = {}


def register_connector_type(cls: type[Connector]) -> None:
    """Register a connector class programmatically (embedding, tests)."""
    _EXTRA[cls.type_name] = cls


def connector_type(name: str) -> type[Connector]:
    """The connector class registered as ``name``, or a clear KeyError."""
    types = {**connector_types(), **_EXTRA}
    if name not in types:
        known = ", ".join(sorted(types)) or "none"
        raise KeyError(f"no connector type named {name!r} (known: {known})")
    return types[name]


def problems(exc: ValidationError) -> list[tuple[str, str]]:
    """A connector settings error as (key path below ``settings``, message) pairs:
    ``(".secret", "Field required")``, ``(".previous_secrets[1]", "not a usable …")``."""
    found = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        found.append((loc, err["msg"].removeprefix("Value error, ")))
    return found


def _build_one(
    index: int, instance: ConnectorInstance, issues: list[ConfigIssue]
) -> Connector | None:
    where = f"connectors[{index}](name={instance.name})"
    try:
        cls = connector_type(instance.type)
    except KeyError as exc:
        issues.append(ConfigIssue(f"{where}.type", str(exc.args[0])))
        return None
    try:
        settings = cls.settings_model.model_validate(instance.settings)
    except ValidationError as exc:
        issues.extend(ConfigIssue(f"{where}.settings{loc}", msg) for loc, msg in problems(exc))
        return None
    try:
        connector = cls(instance.name, settings)
    except ValueError as exc:
        issues.append(ConfigIssue(f"{where}.settings", str(exc)))
        return None
    declared = {s.name for s in connector.streams()}
    for stream in instance.streams:
        if stream not in declared:
            known = ", ".join(sorted(declared)) or "none"
            issues.append(
                ConfigIssue(f"{where}.streams.{stream}", f"no such stream (known: {known})")
            )
    return connector


def build_connectors(settings: Settings) -> dict[str, Connector]:
    """Instantiate every configured connector; report all problems at once."""
    issues: list[ConfigIssue] = []
    built: dict[str, Connector] = {}
    for index, instance in enumerate(settings.connectors):
        connector = _build_one(index, instance, issues)
        if connector is not None:
            built[instance.name] = connector
    if issues:
        raise ConfigError(settings.source_file, issues)
    return built
