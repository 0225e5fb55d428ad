"""Salesforce connector: CRM records in, screen pops and activities out."""
