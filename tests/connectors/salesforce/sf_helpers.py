"""Helpers for the Salesforce connector tests: settings per login flavour, a connector
wired to the sandbox on loopback, a runtime on a real store, and signed requests."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from standardwebhooks.webhooks import Webhook

from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.sandbox import SalesforceSandbox
from connectors.salesforce.settings import SalesforceSettings
from hub.registry import register_connector_type
from hub.runtime import Runtime

REPO = Path(__file__).resolve().parents[3]
OM_TOKEN = "om-path-token-0123456789abcdefXYZ"
CDC_SECRET = "whsec_" + base64.b64encode(b"threadline-cdc-relay-secret-32by").decode()
NAME = "sf"


def pem_pair() -> tuple[str, str]:
    """A fresh RSA key pair (private PKCS8 PEM, public SubjectPublicKeyInfo PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def settings_for(
    sandbox: SalesforceSandbox, url: str, auth: str = "password", **extra: Any
) -> dict[str, Any]:
    """Connector settings (as YAML would give them) for one login flavour."""
    c = sandbox.credentials
    base: dict[str, Any] = {
        "auth": auth,
        "sandbox_url": url,
        "org_id": c.org_id,
        "outbound_message_token": OM_TOKEN,
        "cdc_secret": CDC_SECRET,
    }
    if auth == "password":
        base.update(username=c.username, password=c.password, security_token=c.security_token)
    elif auth == "refresh_token":
        base.update(
            consumer_key=c.consumer_key,
            consumer_secret=c.consumer_secret,
            refresh_token=sandbox.issue_refresh_token(),
            instance_url=c.instance_url,
        )
    base.update(extra)
    return base


def tune(connector: SalesforceConnector, clock: Callable[[], Any] | None = None) -> list[float]:
    """Freeze the connector's clock and record its sleeps instead of sleeping."""
    sleeps: list[float] = []
    connector.client.sleep = sleeps.append
    connector.client.backoff_base = 0.01
    if clock is not None:
        connector.clock = clock
    return sleeps


def connector(
    sandbox: SalesforceSandbox,
    url: str,
    clock: Callable[[], Any] | None = None,
    auth: str = "password",
    **extra: Any,
) -> SalesforceConnector:
    """A connector on its own (in-memory context), talking to the sandbox."""
    settings = SalesforceSettings.model_validate(settings_for(sandbox, url, auth, **extra))
    built = SalesforceConnector(NAME, settings)
    tune(built, clock)
    return built


def runtime(
    make_runtime: Callable[..., Runtime],
    sandbox: SalesforceSandbox,
    url: str,
    clock: Callable[[], Any] | None = None,
    **extra: Any,
) -> tuple[Runtime, SalesforceConnector]:
    """A runtime on this test's store with one Salesforce connector named ``sf``."""
    register_connector_type(SalesforceConnector)
    built = make_runtime(
        connectors=[
            {"name": NAME, "type": "salesforce", "settings": settings_for(sandbox, url, **extra)}
        ],
        hub={"mappings_dir": str(REPO / "mappings")},
    )
    sf = built.connectors[NAME]
    assert isinstance(sf, SalesforceConnector)
    tune(sf, clock)
    return built, sf


def stream(connector: SalesforceConnector, name: str) -> Any:
    return next(s for s in connector.streams() if s.name == name)


def signed_headers(body: bytes, msg_id: str, secret: str = CDC_SECRET) -> dict[str, str]:
    """Standard Webhooks headers for ``body`` signed now."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, now, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def cdc_body(entity: str, change: str, ids: list[str], **fields: Any) -> bytes:
    """A CometD ``data`` object of a change event, as a relay forwards it."""
    header = {
        "entityName": entity,
        "recordIds": ids,
        "changeType": change,
        "changeOrigin": "com/salesforce/api/rest/59.0",
        "transactionKey": f"tx-{entity}-{change}-{'-'.join(ids)}",
        "sequenceNumber": 1,
        "commitTimestamp": int(time.time() * 1000),
        "commitNumber": 1,
        "commitUser": "005000000000001AAA",
        "nulledFields": [],
        "diffFields": [],
        "changedFields": sorted(fields),
    }
    return json.dumps(
        {
            "schema": "IeRuaY6cbI_HsV8Rv1Mc5g",
            "payload": {"ChangeEventHeader": header, **fields},
            "event": {"replayId": 3223481},
        }
    ).encode()


def outbound_message(org_id: str, notifications: list[tuple[str, str, dict[str, str]]]) -> bytes:
    """A SOAP Outbound Message body as Salesforce sends it (protocols.md §2.6)."""
    items = []
    for notification_id, sobject, fields in notifications:
        values = "".join(f"<sf:{k}>{v}</sf:{k}>" for k, v in fields.items())
        items.append(
            f"<Notification><Id>{notification_id}</Id>"
            f'<sObject xsi:type="sf:{sobject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"{values}</sObject></Notification>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n <soapenv:Body>\n'
        '  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">\n'
        f"   <OrganizationId>{org_id}</OrganizationId>\n"
        "   <ActionId>04k7F0000008V3hQAE</ActionId>\n"
        '   <SessionId xsi:nil="true"/>\n'
        "   <EnterpriseUrl>https://ap5.salesforce.com/services/Soap/c/47.0/00D</EnterpriseUrl>\n"
        "   <PartnerUrl>https://ap5.salesforce.com/services/Soap/u/47.0/00D</PartnerUrl>\n"
        + "".join(items)
        + "\n  </notifications>\n </soapenv:Body>\n</soapenv:Envelope>\n"
    ).encode()
