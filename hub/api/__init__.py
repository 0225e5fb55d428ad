"""The JSON HTTP API (``/api/v1``)."""
