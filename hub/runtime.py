"""Everything a process needs, built once from the settings (never at import time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.context import StoreContext
from hub.mappings import MappingSet
from hub.panel_bus import LocalBus, PostgresBus
from hub.pipeline import Pipeline
from hub.plugin import Connector, PushTarget
from hub.pop_targets import audience_of
from hub.pops import PopFanout, build_targets
from hub.registry import build_connectors
from hub.settings import Settings
from hub.store.db import make_engine, make_session_factory
from hub.store.models import Delivery
from hub.transforms import TransformContext
from hub.wakeup import Wakeup


@dataclass
class Runtime:
    """The engine, session factories, connectors and pipeline of one process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    connectors: dict[str, Connector]
    pipeline: Pipeline
    targets: dict[str, PushTarget]
    bus: LocalBus
    wakeup: Wakeup = field(default_factory=Wakeup)

    @classmethod
    def build(cls, settings: Settings, engine: Engine | None = None) -> Runtime:
        """Validate connectors and mappings (ConfigError on any problem), then connect."""
        connectors = build_connectors(settings)
        mappings = MappingSet(settings, connectors)
        engine = engine or make_engine(settings.hub.database_url)
        sessions = make_session_factory(engine)
        for name, connector in connectors.items():
            connector.bind(StoreContext(name, sessions))
        read_sessions = make_session_factory(engine, read_only=True)
        bus = _make_bus(engine, read_sessions)
        targets = build_targets(settings, connectors, bus)
        pipeline = Pipeline(
            connectors,
            mappings,
            TransformContext(settings.hub.default_region),
            journey_window=timedelta(minutes=settings.hub.journey_window_minutes),
            fanout=PopFanout(settings, connectors),
            identity=settings.hub.identity,
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            read_sessions=read_sessions,
            connectors=connectors,
            pipeline=pipeline,
            targets=targets,
            bus=bus,
        )

    def close(self) -> None:
        self.wakeup.close()
        self.bus.close()
        self.engine.dispose()


def _make_bus(engine: Engine, read_sessions: sessionmaker[Session]) -> LocalBus:
    """LISTEN/NOTIFY on PostgreSQL (pops cross processes and hosts); in-process on SQLite."""
    if engine.dialect.name != "postgresql":
        return LocalBus()

    def load(delivery_id: int) -> tuple[str, dict[str, Any]] | None:
        with read_sessions() as session:
            row = session.get(Delivery, delivery_id)
            if row is None:
                return None
            message = {**row.payload, "delivery_id": row.id}
            return audience_of(message), message

    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return PostgresBus(dsn, load)
