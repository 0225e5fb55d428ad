"""``threadline identity simulate --rules <file>``: what proposed rules would change.

Stored source records are replayed (their snapshots: mapped fields and, under
``_keys``, the identifiers as mapped) through the bulk write path twice, under the
current rules and under the proposed ones, each time in a scratch transaction that
is rolled back. The two groupings of records into contacts are compared: a proposed
contact holding records of several current contacts is a *merge*; a current contact
whose records end up in several proposed contacts is a *split*. Nothing is written.

Replays follow the records' source timestamps (consecutive records of one connector
form one page of the bulk path), so the baseline can differ from the
store where the store's history did (events that arrived out of order, CRM merges
and agent decisions, which are not rules). Records stored before ``_keys`` existed
replay with their record key only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hub.errors import ConfigError, ConfigIssue
from hub.identity.rules import CandidateRules, IdentityRules
from hub.mapping import MappedRecord
from hub.store.bulk import PageItem, apply_contact_page
from hub.store.models import (
    Contact,
    Identifier,
    IdentityLink,
    MatchCandidate,
    Merge,
    SourceRecord,
)

RecordKey = tuple[str, str, str]
PAGE = 500


def load_rules(path: str | Path) -> IdentityRules:
    """Rules from a YAML file: the ``hub.identity`` section, or its content alone."""
    file = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(file, [ConfigIssue("", f"cannot read rules: {exc}")]) from None
    if isinstance(raw, dict) and isinstance(raw.get("hub"), dict):
        raw = raw["hub"].get("identity", {})
    elif isinstance(raw, dict) and isinstance(raw.get("identity"), dict):
        raw = raw["identity"]
    try:
        return IdentityRules.model_validate(raw)
    except ValidationError as exc:
        issues = [ConfigIssue(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigError(file, issues) from None


def _records(session: Session) -> list[SourceRecord]:
    return list(
        session.scalars(
            select(SourceRecord).order_by(SourceRecord.source_updated_at, SourceRecord.id)
        )
    )


def _replay(session: Session, rules: IdentityRules) -> list[frozenset[RecordKey]]:
    """Rebuild every contact from the stored records under ``rules``; the grouping."""
    quiet = rules.model_copy(update={"candidates": CandidateRules(enabled=False)})
    records = [
        (r.connector, r.object_type, r.external_id, dict(r.snapshot), r.source_updated_at)
        for r in _records(session)
    ]
    for model in (MatchCandidate, Merge, IdentityLink, Identifier, SourceRecord):
        session.execute(delete(model))
    session.execute(update(Contact).values(merged_into_id=None))
    page: list[PageItem] = []
    page_connector = ""
    for connector, object_type, external_id, snapshot, updated_at in records:
        keys = [(str(k), str(v)) for k, v in snapshot.pop("_keys", [])]
        snapshot.pop("_merged_into", None)
        mapped = MappedRecord(target="contact", fields=snapshot, identifiers=keys)
        if page and (connector != page_connector or len(page) >= PAGE):
            apply_contact_page(session, connector=page_connector, items=page, rules=quiet)
            page = []
        page_connector = connector
        page.append(PageItem(object_type, external_id, mapped, updated_at))
    if page:
        apply_contact_page(session, connector=page_connector, items=page, rules=quiet)
    return _grouping(session)


def _grouping(session: Session) -> list[frozenset[RecordKey]]:
    groups: dict[str, set[RecordKey]] = {}
    for connector, object_type, external_id, contact_id in session.execute(
        select(
            SourceRecord.connector,
            SourceRecord.object_type,
            SourceRecord.external_id,
            SourceRecord.contact_id,
        )
    ):
        groups.setdefault(contact_id, set()).add((connector, object_type, external_id))
    return [frozenset(g) for g in groups.values()]


def _in_scratch(
    sessions: Callable[[], Session], rules: IdentityRules
) -> list[frozenset[RecordKey]]:
    session = sessions()
    try:
        return _replay(session, rules)
    finally:
        session.rollback()
        session.close()


def compare(
    before: list[frozenset[RecordKey]], after: list[frozenset[RecordKey]], examples: int = 20
) -> dict[str, Any]:
    """Merges and splits between two groupings of the same records."""
    group_of = {key: index for index, group in enumerate(before) for key in group}
    merges = [g for g in after if len({group_of.get(k) for k in g}) > 1]
    after_of = {key: index for index, group in enumerate(after) for key in group}
    splits = [g for g in before if len({after_of.get(k) for k in g}) > 1]

    def show(group: frozenset[RecordKey]) -> list[str]:
        return sorted(":".join(k) for k in group)

    return {
        "records": len(group_of),
        "contacts_before": len(before),
        "contacts_after": len(after),
        "merges": len(merges),
        "splits": len(splits),
        "merge_examples": [show(g) for g in merges[:examples]],
        "split_examples": [show(g) for g in splits[:examples]],
    }


def simulate(
    sessions: Callable[[], Session], current: IdentityRules, proposed: IdentityRules
) -> dict[str, Any]:
    """Replay under ``current`` and ``proposed`` rules (rolled back) and compare."""
    baseline = _in_scratch(sessions, current)
    candidate = _in_scratch(sessions, proposed)
    return compare(baseline, candidate)
