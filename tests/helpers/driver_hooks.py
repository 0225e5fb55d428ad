"""Intake writes its batches on the driver's own cursor, where SQLAlchemy's
``before_cursor_execute`` event never fires. :func:`on_intake_statement` gives tests the
same grip there: a hook called with the driver module, each statement and its
parameters before the driver runs it, free to hold it or to raise the driver's own
errors, as a failing store would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from hub import inbox_writes

Hook = Callable[[Any, str, Any], None]


class _HookedCursor:
    """A driver cursor whose ``execute`` and ``executemany`` call the hook first."""

    def __init__(self, cursor: Any, dbapi: Any, hook: Hook) -> None:
        self._cursor, self._dbapi, self._hook = cursor, dbapi, hook

    def execute(self, statement: str, parameters: Any = ()) -> Any:
        self._hook(self._dbapi, statement, parameters)
        return self._cursor.execute(statement, parameters)

    def executemany(self, statement: str, parameters: Any) -> Any:
        self._hook(self._dbapi, statement, parameters)
        return self._cursor.executemany(statement, parameters)

    def __enter__(self) -> _HookedCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cursor.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


@contextmanager
def on_intake_statement(hook: Hook) -> Iterator[None]:
    """Call ``hook(dbapi, statement, parameters)`` before every statement intake's
    batch write sends, until the block ends."""
    real = inbox_writes.driver_cursor

    def hooked(conn: Any) -> _HookedCursor:
        return _HookedCursor(real(conn), conn.dialect.loaded_dbapi, hook)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(inbox_writes, "driver_cursor", hooked)
        yield
