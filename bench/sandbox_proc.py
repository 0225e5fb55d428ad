"""A vendor sandbox in its own process, so its records are not in the measured one.

Usage: python bench/sandbox_proc.py salesforce|hubspot CONTACTS
Prints ``URL <url>`` once serving, then serves until killed.
"""

from __future__ import annotations

import sys

from werkzeug.serving import make_server


def build(kind: str, contacts: int) -> tuple[object, dict[str, str]]:
    if kind == "salesforce":
        from connectors.salesforce.sandbox import SalesforceSandbox

        box = SalesforceSandbox(seed=1, counts={"User": 2, "Account": 20, "Contact": contacts})
        c = box.credentials
        facts = {"username": c.username, "password": c.password, "token": c.security_token,
                 "org_id": c.org_id}  # fmt: skip
        return box, facts
    from connectors.hubspot.sandbox import HubSpotSandbox, RateLimits, SeedCounts

    counts = SeedCounts(contacts=contacts, companies=0, calls=0, emails=0, notes=0, meetings=0)
    limits = RateLimits(per_ten_seconds=10_000_000, daily=100_000_000, search_per_second=10_000)
    hubspot = HubSpotSandbox(seed=1, counts=counts, rate_limits=limits)
    return hubspot, {"token": hubspot.private_app_token, "portal_id": str(hubspot.portal_id)}


def main() -> None:
    import json
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    box, facts = build(sys.argv[1], int(sys.argv[2]))
    server = make_server("127.0.0.1", 0, box.app, threaded=True)  # type: ignore[attr-defined]
    print(f"URL http://127.0.0.1:{server.server_port} {json.dumps(facts)}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
