"""Association specs: validation shared by v3 create bodies and the v4 endpoints."""

from __future__ import annotations

from typing import Any

from .errors import validation_error
from .schema import ASSOCIATION_TYPES, OBJECT_TYPES, ObjectType
from .store import CRMStore

CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED")


def parse_spec(raw: Any, from_obj: ObjectType, to_name: str | None, where: str) -> int:
    """Validate one ``AssociationSpec`` and return its type id.

    ``to_name`` is None in v3 create bodies, where the target type is implied by the id.
    """
    if not isinstance(raw, dict):
        raise validation_error(f"{where}: an association spec must be an object")
    category, type_id = raw.get("associationCategory"), raw.get("associationTypeId")
    if category not in CATEGORIES:
        raise validation_error(f"{where}: associationCategory must be one of {list(CATEGORIES)}")
    if not isinstance(type_id, int) or isinstance(type_id, bool):
        raise validation_error(f"{where}: associationTypeId must be an integer")
    known = ASSOCIATION_TYPES.get(type_id)
    if (category != "HUBSPOT_DEFINED" or known is None or known.from_type != from_obj.name
            or (to_name is not None and known.to_type != to_name)):
        raise validation_error(
            f"{where}: association type id {type_id} ({category}) does not exist between "
            f"{from_obj.singular} and {to_name or 'the target object'}")
    return type_id


def parse_create_associations(store: CRMStore, obj: ObjectType,
                              raw: Any) -> list[tuple[str, int, int]]:
    """``associations`` of a create input -> (to type, to id, type id), targets checked."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation_error("Invalid input JSON: associations must be an array")
    out: list[tuple[str, int, int]] = []
    for i, item in enumerate(raw):
        where = f"associations[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("to"), dict):
            raise validation_error(f"{where}: 'to' and 'types' are required")
        to_id = str(item["to"].get("id", ""))
        types = item.get("types")
        if not isinstance(types, list) or not types:
            raise validation_error(f"{where}: types must be a non-empty array")
        for j, spec in enumerate(types):
            type_id = parse_spec(spec, obj, None, f"{where}.types[{j}]")
            target_type = ASSOCIATION_TYPES[type_id].to_type
            target = store.get(OBJECT_TYPES[target_type], to_id)
            if target is None:
                raise validation_error(
                    f"{where}: {OBJECT_TYPES[target_type].singular} {to_id} does not exist",
                    subCategory="crm.associations.INVALID_OBJECT_IDS")
            out.append((target_type, target.id, type_id))
    return out
