"""Find and cache the mapping file for each (connector, object type)."""

from __future__ import annotations

from pathlib import Path

from hub.errors import ConfigError, ConfigIssue
from hub.mapping import Mapping_, load_mapping
from hub.plugin import Connector
from hub.settings import Settings

REPO_MAPPINGS = Path(__file__).resolve().parent.parent / "mappings"


def mappings_dir(settings: Settings) -> Path:
    """The configured folder, else ``./mappings``, else the one shipped beside ``hub``."""
    if settings.hub.mappings_dir:
        return Path(settings.hub.mappings_dir)
    local = Path("mappings")
    return local if local.is_dir() else REPO_MAPPINGS


class MappingSet:
    """Every mapping the configured connectors need, loaded and validated once.

    A connector instance may override a shipped file from config
    (``connectors[].mappings: {contact: path/to/file.yaml}``) without editing it.
    """

    def __init__(self, settings: Settings, connectors: dict[str, Connector]) -> None:
        self._by_key: dict[tuple[str, str], Mapping_] = {}
        base = mappings_dir(settings)
        issues: list[ConfigIssue] = []
        for index, instance in enumerate(settings.connectors):
            connector = connectors.get(instance.name)
            if connector is None:
                continue
            for object_type in connector.object_types:
                override = instance.mappings.get(object_type)
                path = (
                    Path(override)
                    if override
                    else base / connector.type_name / (f"{object_type}.yaml")
                )
                where = f"connectors[{index}](name={instance.name}).mappings.{object_type}"
                if not path.is_file():
                    issues.append(ConfigIssue(where, f"mapping file not found: {path}"))
                    continue
                try:
                    self._by_key[(instance.name, object_type)] = load_mapping(path)
                except ConfigError as exc:
                    issues.extend(ConfigIssue(f"{where} ({path})", str(i)) for i in exc.issues)
        if issues:
            raise ConfigError(settings.source_file, issues)

    def get(self, connector: str, object_type: str) -> Mapping_ | None:
        return self._by_key.get((connector, object_type))
