"""Blocking stays bounded: a contact with a very common last name costs the scorer the
same handful of statements and at most a few blocks' worth of rows, however many
namesakes the store holds (hub/identity/candidates.py, ``BLOCK_CAP``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import TextClause, event

from hub.identity.candidates import BLOCK_CAP, refresh_candidates
from hub.store.db import transaction
from hub.store.models import Contact, Identifier

FIRST = ["Ana", "Maria", "James", "Sofia", "Lucas", "Emma", "Noah", "Olivia", "Hugo", "Ines"]


def _store(runtime: Any, smiths: int) -> tuple[str, str]:
    """``smiths`` contacts named Smith (none a Robert), then Robert and Bob Smith, who
    share a switchboard number with a crowd of them."""
    with transaction(runtime.sessions) as session:
        crowd = [
            Contact(first_name=f"{FIRST[n % len(FIRST)]}{n // len(FIRST)}", last_name="Smith")
            for n in range(smiths)
        ]
        robert = Contact(first_name="Robert", last_name="Smith", company="Acme")
        bob = Contact(first_name="Bob", last_name="Smith", company="Acme")
        session.add_all([*crowd, robert, bob])
        session.flush()
        session.add_all(
            Identifier(kind="phone", value="+12125550100", contact_id=c.id)
            for c in [*crowd, robert, bob]
        )
        return robert.id, bob.id


def _score_counting(runtime: Any, contact_id: str) -> tuple[dict[Any, Any], int, int]:
    """Score one contact; return the pairs scored, the statements and the rows read."""
    counted = {"statements": 0, "rows": 0}

    def count(state: Any) -> Any:
        result = state.invoke_statement()
        statement = state.statement
        # Reads: selects, and text statements that are not the candidates' insert
        # (hub.store.rowsets.insert_rows on PostgreSQL; its RETURNING rows are not read).
        read = isinstance(statement, TextClause) and not statement.text.startswith("INSERT")
        if not (state.is_select or read):
            return result
        frozen = result.freeze()
        counted["statements"] += 1
        counted["rows"] += len(frozen().all())
        return frozen()

    event.listen(runtime.sessions, "do_orm_execute", count)
    try:
        with transaction(runtime.sessions) as session:
            scored = refresh_candidates(session, [contact_id], runtime.pipeline.identity)
    finally:
        event.remove(runtime.sessions, "do_orm_execute", count)
    assert scored is not None
    return scored.pairs, counted["statements"], counted["rows"]


def test_a_very_common_last_name_does_not_make_a_block_unbounded(make_runtime: Any) -> None:
    runtime = make_runtime()
    robert, bob = _store(runtime, 5 * BLOCK_CAP)
    pairs, statements, rows = _score_counting(runtime, robert)
    # One full read of the too-common block (BLOCK_CAP + 1 rows) and small ones: never
    # the 500 Smiths nor the 500 holders of the switchboard number.
    assert rows <= 2 * (BLOCK_CAP + 1)
    assert statements <= 10
    # Too many Smiths to be evidence: only the same first name (nicknames) is compared,
    # so Bob is still found, and none of the crowd; the candidate's reasons say why.
    pair = (min(robert, bob), max(robert, bob))
    assert set(pairs) == {pair}
    assert "last name is held by more than" in str(pairs[pair][1]["blocking"])


def test_a_block_under_the_cap_is_compared_whole(make_runtime: Any) -> None:
    runtime = make_runtime()
    robert, _ = _store(runtime, BLOCK_CAP // 2)
    pairs, _, _ = _score_counting(runtime, robert)
    # Every Smith whose name is alike enough (each first name differs) is scored.
    assert len(pairs) > BLOCK_CAP // 4
    assert not any("blocking" in reasons for _, reasons in pairs.values())
