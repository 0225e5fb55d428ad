"""HubSpot connector: CRM objects, engagements, OAuth and webhooks (sandbox in ``sandbox/``)."""
