"""The connector interface: the one file a connector author reads.

A connector is declarations plus small pure hooks. The hub owns the loops,
transactions, retries, cursors, logging and HTTP policy. What a connector can do is
derived from what it declares (inbound endpoints, pull streams, push targets), never
from a separate flag that could drift.

Worked example (a complete connector is ``connectors/standard_webhooks``)::

    class AcmeSettings(BaseModel):
        secret: SecretStr

    class AcmeInbound(InboundEndpoint):
        def verify(self, raw: RawRequest) -> None: ...      # raise SignatureError
        def parse(self, raw: RawRequest) -> list[InboundEvent]: ...  # raise PayloadError

    class AcmeConnector(Connector):
        type_name = "acme"
        description = "Acme CRM: contact webhooks"
        settings_model = AcmeSettings

        def inbound_endpoints(self) -> list[InboundEndpoint]:
            return [AcmeInbound(name="")]

        def interpret(self, event: InboundEvent) -> list[Change]:
            return [SourceRecord("contact", event.payload["id"], event.payload)]

Register it in ``pyproject.toml``::

    [project.entry-points."threadline.connectors"]
    acme = "acme_threadline.connector:AcmeConnector"
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from webhooks import RawRequest

if TYPE_CHECKING:
    from hub.context import ConnectorContext


@dataclass(frozen=True)
class InboundEvent:
    """One event parsed from a verified request, before it is stored.

    Attributes:
        key: the sender's idempotency key (``webhook-id``, HubSpot's event tuple,
            Twilio's CallSid + CallStatus …); duplicates with the same key are stored
            once per connector instance.
        event_type: the sender's event name (``contact.updated``, ``call.ringing``).
        payload: the event as JSON-compatible data; this is what the worker sees.
    """

    key: str
    event_type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class AckResponse:
    """What to answer the sender once its events are durable."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


@dataclass(frozen=True)
class IntakeResult:
    """What the hub did with a request: new events stored and duplicates skipped."""

    stored: int
    duplicates: int


class InboundEndpoint(ABC):
    """A webhook URL: ``/webhooks/<connector-name>`` plus ``/<name>`` when named.

    Anything after ``/<name>/`` (a path token, say) is kept in ``raw.url`` for
    ``verify`` to check.

    ``verify`` and ``parse`` must be total: they raise only the errors of the
    ``webhooks`` package (SignatureError → 401, PayloadError → 400).
    """

    methods: ClassVar[tuple[str, ...]] = ("POST",)

    def __init__(self, name: str = "") -> None:
        self.name = name

    @abstractmethod
    def verify(self, raw: RawRequest) -> None:
        """Raise ``SignatureError`` unless ``raw`` is provably from the sender."""

    @abstractmethod
    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        """Split a verified request into events; raise ``PayloadError`` on bad shape."""

    def handshake(self, raw: RawRequest) -> AckResponse | None:
        """Answer a GET verification handshake (Meta's ``hub.challenge``); None = 405."""
        return None

    #: A query endpoint answers from the store and stores nothing (a HubSpot app card
    #: fetching context): the hub verifies, then calls ``answer`` instead of ``parse``.
    query: ClassVar[bool] = False

    def answer(self, raw: RawRequest) -> AckResponse:
        """The response of a query endpoint (``query = True``)."""
        raise NotImplementedError

    def fallback(self, raw: RawRequest) -> AckResponse | None:
        """What to answer when the hub cannot store the request (store down, an
        unexpected error): None means 503/500. Twilio Voice returns TwiML here, since a
        caller would otherwise hear an error."""
        return None

    def ack(self, raw: RawRequest, result: IntakeResult) -> AckResponse:
        """The 2xx the sender expects (Twilio wants TwiML, Salesforce a SOAP Ack)."""
        import json

        body = {"accepted": result.stored, "duplicates": result.duplicates}
        return AckResponse(body=json.dumps(body).encode())


# ----- what a connector hands the pipeline ---------------------------------------


@dataclass(frozen=True)
class SourceRecord:
    """A record as it is in the source system, to be mapped by a mapping file.

    ``object_type`` selects the mapping (``mappings/<connector type>/<object_type>.yaml``).
    ``updated_at`` is the source's own modification time: the store never lets an
    older version overwrite a newer one, so out-of-order delivery is harmless.
    """

    object_type: str
    external_id: str
    data: Mapping[str, Any]
    updated_at: datetime | None = None


@dataclass(frozen=True)
class SourceDeletion:
    """The source deleted (or archived) a record."""

    object_type: str
    external_id: str
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class SourceMerge:
    """The source merged records (HubSpot ``contact.merge``, Salesforce MasterRecordId):
    ``merged_ids`` now live on in ``primary_id``."""

    object_type: str
    primary_id: str
    merged_ids: tuple[str, ...]
    merged_at: datetime | None = None


@dataclass(frozen=True)
class PopTrigger:
    """Someone is reaching an agent now: the moment and target of a screen pop.

    ``interaction`` names the interaction it belongs to as ``(object_type,
    external_id)`` of a :class:`SourceRecord` in the same batch of changes (or an
    earlier one); ``contact_keys`` (``("phone", "+1…")``) find the customer when
    there is no interaction yet. ``key`` makes the trigger idempotent per connector.
    """

    key: str
    trigger: str
    interaction: tuple[str, str] | None = None
    contact_keys: tuple[tuple[str, str], ...] = ()
    channel: str | None = None
    agent: str | None = None
    desk: str | None = None
    triggered_at: datetime | None = None
    #: Small vendor references a push target needs (Twilio's TaskSid for Flex); copied
    #: into the pop payload as ``trigger.data``. Never personal data.
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ignored:
    """A verified event the connector has no handler for; kept, marked ``ignored``."""

    reason: str


Change = SourceRecord | SourceDeletion | SourceMerge | PopTrigger | Ignored


# ----- pull streams --------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page of a pull stream.

    ``cursor`` is safe to persist once this page's records are committed; the hub
    commits records and cursor in one transaction, so a crash never skips a page.
    """

    records: Sequence[SourceRecord] = ()
    deletions: Sequence[SourceDeletion] = ()
    cursor: Mapping[str, Any] = field(default_factory=dict)


class Stream(ABC):
    """A pull stream: the hub calls ``read`` on schedule with the last cursor."""

    #: The stream's name, as used in config (``streams: {contacts: …}``).
    name: ClassVar[str]
    #: The source object type it yields (selects the mapping file).
    object_type: ClassVar[str]

    @abstractmethod
    def read(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        """Yield pages after ``cursor`` (an empty dict on the first run).

        A full backfill is the same call from an empty cursor; the hub keeps the
        backfill's own cursor apart from the incremental one so either can resume.
        Raise ``RetriableError`` (with ``retry_after``) to stop and resume later, e.g.
        when the API budget for backfills is spent.
        """

    #: Budget priority the hub asks for: "live" for scheduled increments, "backfill"
    #: while a full sync runs (set by the hub before ``read``).
    priority: str = "live"

    def estimate(self, cursor: Mapping[str, Any]) -> int | None:
        """How many records remain after ``cursor``, for progress; None if unknown."""
        return None


# ----- push targets --------------------------------------------------------------


class PushTarget(ABC):
    """Delivers a screen pop (or any payload) into an agent's tool."""

    name: ClassVar[str]

    @abstractmethod
    def push(self, payload: Mapping[str, Any], idempotency_key: str) -> str | None:
        """Deliver once per key; return an external id or deep link when there is one."""


# ----- the connector -------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """Whether credentials and reachability are fine, in plain words when not."""

    ok: bool
    detail: str = ""


class Connector(ABC):
    """Base class of every connector type.

    Subclasses set ``type_name``, ``description`` and ``settings_model`` and override
    the hooks for what they support. The hub builds one instance per configured
    connector with its validated settings.
    """

    type_name: ClassVar[str]
    description: ClassVar[str]
    settings_model: ClassVar[type[BaseModel]]
    #: Source object types this connector emits; each needs a mapping file
    #: ``mappings/<type_name>/<object_type>.yaml`` (checked at start-up).
    object_types: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, settings: BaseModel) -> None:
        from hub.context import MemoryContext

        self.name = name
        self.settings = settings
        #: Durable state and shared API budgets; the hub binds a store-backed one.
        self.context: ConnectorContext = MemoryContext(name)

    def bind(self, context: ConnectorContext) -> None:
        """Called by the hub once the store is connected."""
        self.context = context

    def inbound_endpoints(self) -> Sequence[InboundEndpoint]:
        """Webhook endpoints this connector receives on (none by default)."""
        return ()

    def streams(self) -> Sequence[Stream]:
        """Pull streams, for tools without webhooks or for backfills."""
        return ()

    def push_targets(self) -> Sequence[PushTarget]:
        """Targets that deliver pops into this system."""
        return ()

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        """Turn a stored inbound event into changes; runs in the worker."""
        return [Ignored(f"{self.type_name} has no handler for {event.event_type!r}")]

    def deep_link(self, object_type: str, external_id: str) -> str | None:
        """A URL that opens this record in the vendor's own UI (for agents)."""
        return None

    def check(self) -> CheckResult:
        """Verify credentials and reachability without changing anything."""
        return CheckResult(ok=True, detail="nothing to check")

    def endpoint(self, name: str) -> InboundEndpoint | None:
        return next((e for e in self.inbound_endpoints() if e.name == name), None)

    @property
    def capabilities(self) -> dict[str, list[str]]:
        """What this instance can do, derived from its declarations."""
        return {
            "webhooks": [e.name or "/" for e in self.inbound_endpoints()],
            "streams": [s.name for s in self.streams()],
            "push_targets": [t.name for t in self.push_targets()],
        }
