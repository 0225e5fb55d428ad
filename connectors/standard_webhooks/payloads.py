"""The documented JSON shapes a Standard Webhooks sender posts (see README.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CONTACT_TYPES = {"contact.created", "contact.updated"}
DELETE_TYPES = {"contact.deleted"}
INTERACTION_TYPES = {
    "interaction.created",
    "interaction.updated",
    "interaction.started",
    "interaction.ended",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", str_max_length=10_000)


class Envelope(_Model):
    type: str = Field(min_length=1, max_length=100)
    timestamp: datetime | None = None
    data: dict[str, Any]


class ContactData(_Model):
    id: str = Field(min_length=1, max_length=255)
    updated_at: datetime | None = None
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    company: str | None = None
    language: str | None = None
    tier: str | None = None
    email: str | None = None
    emails: list[str] = Field(default_factory=list, max_length=50)
    phone: str | None = None
    phones: list[str] = Field(default_factory=list, max_length=50)
    keys: dict[str, str] = Field(default_factory=dict)


class ContactRef(_Model):
    id: str | None = Field(None, max_length=255)
    email: str | None = None
    phone: str | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> ContactRef:
        if not (self.id or self.email or self.phone):
            raise ValueError("give at least one of id, email or phone")
        return self


class InteractionData(_Model):
    id: str = Field(min_length=1, max_length=255)
    channel: Literal["voice", "sms", "whatsapp", "social", "email", "chat", "crm-activity"]
    direction: Literal["inbound", "outbound", "internal"] = "inbound"
    occurred_at: datetime
    updated_at: datetime | None = None
    status: str | None = Field(None, max_length=50)
    summary: str | None = None
    agent: str | None = Field(None, max_length=200)
    desk: str | None = Field(None, max_length=200)
    contact: ContactRef


class DeletionData(_Model):
    id: str = Field(min_length=1, max_length=255)
    deleted_at: datetime | None = None
