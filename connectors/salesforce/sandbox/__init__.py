"""A Salesforce API sandbox faithful to the wire format simple-salesforce speaks.

See README.md in this folder for what it emulates and what it rejects.
"""

from __future__ import annotations

from .app import SalesforceSandbox, create_app, serve
from .errors import SalesforceError
from .sessions import Credentials
from .transport import sandbox_session

__all__ = [
    "Credentials",
    "SalesforceError",
    "SalesforceSandbox",
    "create_app",
    "sandbox_session",
    "serve",
]
