"""Everything a process needs, built once from the settings (never at import time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.context import StoreContext
from hub.mappings import MappingSet
from hub.pipeline import Pipeline
from hub.plugin import Connector
from hub.registry import build_connectors
from hub.settings import Settings
from hub.store.db import make_engine, make_session_factory
from hub.transforms import TransformContext


@dataclass
class Runtime:
    """The engine, session factories, connectors and pipeline of one process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    connectors: dict[str, Connector]
    pipeline: Pipeline

    @classmethod
    def build(cls, settings: Settings, engine: Engine | None = None) -> Runtime:
        """Validate connectors and mappings (ConfigError on any problem), then connect."""
        connectors = build_connectors(settings)
        mappings = MappingSet(settings, connectors)
        engine = engine or make_engine(settings.hub.database_url)
        sessions = make_session_factory(engine)
        for name, connector in connectors.items():
            connector.bind(StoreContext(name, sessions))
        pipeline = Pipeline(
            connectors,
            mappings,
            TransformContext(settings.hub.default_region),
            journey_window=timedelta(minutes=settings.hub.journey_window_minutes),
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            read_sessions=make_session_factory(engine, read_only=True),
            connectors=connectors,
            pipeline=pipeline,
        )

    def close(self) -> None:
        self.engine.dispose()
