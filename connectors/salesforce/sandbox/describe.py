"""``describe`` payloads generated from the schema, in the REST API's shape.

Only the keys connectors read are filled with meaning (name, label, type, length,
nillable, createable, updateable, externalId, picklistValues, referenceTo,
relationshipName, filterable, sortable); the rest carry Salesforce's usual values
so that code indexing them does not break.
"""

from __future__ import annotations

from typing import Any

from .schema import ID_TYPES, STRING_TYPES, Field, SObjectType

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "datetime": "xsd:dateTime",
    "date": "xsd:date",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
}


def urls(sobject: SObjectType, version: str) -> dict[str, str]:
    base = f"/services/data/{version}/sobjects/{sobject.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def summary(sobject: SObjectType, version: str) -> dict[str, Any]:
    """One entry of the global describe (``GET /sobjects``)."""
    return {
        "activateable": False,
        "createable": sobject.createable,
        "custom": False,
        "customSetting": False,
        "deletable": sobject.deletable,
        "deprecatedAndHidden": False,
        "feedEnabled": not sobject.is_platform_event,
        "keyPrefix": sobject.key_prefix,
        "label": sobject.label,
        "labelPlural": sobject.label_plural,
        "layoutable": True,
        "mergeable": sobject.name in ("Account", "Contact", "Lead"),
        "mruEnabled": True,
        "name": sobject.name,
        "queryable": sobject.queryable,
        "replicateable": sobject.queryable,
        "retrieveable": sobject.queryable,
        "searchable": sobject.queryable,
        "triggerable": True,
        "undeletable": sobject.deletable,
        "updateable": sobject.updateable,
        "urls": urls(sobject, version),
    }


def global_describe(types: list[SObjectType], version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [summary(t, version) for t in sorted(types, key=lambda t: t.name)],
    }


def _field(f: Field) -> dict[str, Any]:
    return {
        "aggregatable": f.type not in ("textarea",),
        "autoNumber": f.name == "CaseNumber",
        "byteLength": f.length * 3,
        "calculated": f.calculated,
        "caseSensitive": False,
        "createable": f.createable,
        "custom": f.name.endswith("__c"),
        "defaultValue": None,
        "defaultedOnCreate": f.type == "boolean"
        or f.name in ("Id", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp"),
        "digits": 9 if f.type == "int" else 0,
        "externalId": f.external_id,
        "filterable": f.filterable,
        "groupable": f.type not in ("textarea", "double"),
        "idLookup": f.name == "Id" or f.external_id or f.type == "email",
        "label": f.display_label,
        "length": f.length if f.type in STRING_TYPES or f.type in ID_TYPES else 0,
        "name": f.name,
        "nameField": f.name == "Name",
        "nillable": f.nillable,
        "picklistValues": [
            {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
            for v in f.picklist
        ],
        "polymorphicForeignKey": len(f.reference_to) > 1,
        "precision": 18 if f.type in ("currency", "double") else 0,
        "referenceTo": list(f.reference_to),
        "relationshipName": f.relationship_name,
        "restrictedPicklist": False,
        "scale": 2 if f.type == "currency" else 0,
        "soapType": _SOAP_TYPES.get(f.type, "xsd:string"),
        "sortable": f.sortable,
        "type": f.type,
        "unique": f.external_id,
        "updateable": f.updateable,
    }


def describe(sobject: SObjectType, version: str, children: list[dict[str, Any]]) -> dict[str, Any]:
    """``GET /sobjects/{type}/describe``."""
    body = summary(sobject, version)
    body.update(
        {
            "childRelationships": children,
            "fields": [_field(f) for f in sobject.fields],
            "recordTypeInfos": [],
            "supportedScopes": [{"label": "All", "name": "everything"}],
        }
    )
    return body


def child_relationships(sobject: SObjectType, types: list[SObjectType]) -> list[dict[str, Any]]:
    """References from other types pointing at ``sobject`` (Account -> Contacts...)."""
    children = []
    for other in types:
        for f in other.fields:
            if sobject.name in f.reference_to and f.createable:
                children.append(
                    {
                        "cascadeDelete": False,
                        "childSObject": other.name,
                        "field": f.name,
                        "relationshipName": other.label_plural.replace(" ", ""),
                    }
                )
    return children
