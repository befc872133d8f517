"""The API's request and response bodies, defined once; the OpenAPI components come from here.

The violation is the contract's own (``lastmile.contract.messages.Violation``): what the
API serves is what ``violations.v1`` carries, plus the case. ``lastmile.api.openapi`` turns
these Structs into ``components/schemas`` (msgspec's JSON Schema, OpenAPI 3.1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

from lastmile.api.cases import STATES
from lastmile.contract.messages import Violation

if TYPE_CHECKING:
    CaseStateName = str
    MovedTo = str
else:
    CaseStateName = Literal[STATES]
    MovedTo = Literal[STATES[1:]]

R = TypeVar("R")
Time = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
Count = Annotated[int, Meta(ge=0)]
MAX_TEXT = 1000
# free text from a person: not blank (a non-space character somewhere), at most 1000 characters
Text = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT, pattern=r"\S")]


class Body(Struct, kw_only=True):
    """Base of the API's bodies."""


class ErrorDetail(Body, kw_only=True):
    code: str
    message: str


class Error(Body, kw_only=True):
    """Every error answer: a stable code and a message for people."""

    error: ErrorDetail


class Health(Body, kw_only=True):
    status: str


class CaseState(Body, kw_only=True):
    state: CaseStateName
    updated_at: Time | None = None


class CaseEntry(Body, kw_only=True):
    at: Time
    action: Literal["ack", "dispute", "decision"]
    to: MovedTo
    by: str
    role: str
    reason: str | None = None
    note: str | None = None


class Case(CaseState, kw_only=True):
    history: list[CaseEntry]


class ViolationItem(Violation, kw_only=True):
    """A violation with the state of its case."""

    case: CaseState


class ViolationDetail(Violation, kw_only=True):
    """A violation with its case history."""

    case: Case


class ViolationPage(Body, kw_only=True):
    """A page; ``next_cursor`` is null on the last page."""

    items: list[ViolationItem]
    next_cursor: str | None


class CaseResponse(Body, kw_only=True):
    violation_id: str
    case: Case


class AckRequest(Body, kw_only=True):
    note: Text | None = None


class DisputeRequest(Body, kw_only=True):
    reason: Text


class DecisionRequest(Body, kw_only=True):
    outcome: Literal["upheld", "dismissed"]
    note: Text


class ParcelViolation(ViolationItem, kw_only=True):
    evidence_events: list[dict[str, Any]]


class Parcel(Body, kw_only=True):
    """A parcel's timeline with its violations and their evidence events."""

    parcel_id: str
    direction: str | None = None
    destination: dict[str, Any]
    contract_carrier: str | None = None
    carriers: list[str]
    hops: list[dict[str, Any]]
    handovers: list[dict[str, Any]]
    scans: list[dict[str, Any]]
    complaints: list[dict[str, Any]]
    violations: list[ParcelViolation]


class StateCounts(Body, kw_only=True):
    open: Count
    acknowledged: Count
    disputed: Count
    upheld: Count
    dismissed: Count


class CarrierCases(Body, kw_only=True):
    total: Count
    by_state: StateCounts


class CaseSummary(Body, kw_only=True):
    total: Count
    by_state: StateCounts
    by_carrier: dict[str, CarrierCases]


class WebhookRequest(Body, kw_only=True):
    url: Annotated[str, Meta(max_length=2048, extra_json_schema={"format": "uri"})]
    replay: Annotated[
        bool, Meta(description="first registration only: deliver the whole stream")
    ] = False


class WebhookCreated(Body, kw_only=True):
    id: str
    url: str
    created_at: Time
    secret: Annotated[str, Meta(description="shown once; signs every delivery")]


class WebhookStatus(Body, kw_only=True):
    id: str
    url: str
    created_at: Time
    cursor: str | None = None
    status: Literal["ok", "retrying", "suspended"]
    attempts: Count
    last_error: str | None = None
    last_attempt_at: str | None = None
    last_success_at: str | None = None
    failing_since: str | None = None
    pending_delivery: str | None = None


class CarrierWebhook(WebhookStatus, kw_only=True):
    carrier: str


class WebhookList(Body, kw_only=True):
    items: list[CarrierWebhook]


class Delivery(Body, kw_only=True):
    log_id: str
    delivery_id: str
    violation_id: str
    attempt: Count
    outcome: Literal["delivered", "failed"]
    status_code: int | None = None
    error: str | None = None
    duration_ms: float | None = None
    at: Time
    next_retry_at: Time | None = None


class DeliveryPage(Body, kw_only=True):
    items: list[Delivery]
    next_cursor: str | None


REQUESTS = (AckRequest, DisputeRequest, DecisionRequest, WebhookRequest)
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {
    kind: msgspec.json.Decoder(kind) for kind in REQUESTS
}


class BodyRefused(ValueError):
    """A request body its definition refuses; the message names the field."""


def decode_request(kind: type[R], raw: bytes) -> R:
    """Decode and validate a request body with its definition (``{}`` when empty)."""
    try:
        body: R = _DECODERS[kind].decode(raw if raw.strip() else b"{}")
    except msgspec.ValidationError as exc:
        raise BodyRefused(str(exc)) from None
    except msgspec.DecodeError:
        raise BodyRefused("the body is not valid JSON") from None
    except RecursionError:
        raise BodyRefused("the body is nested too deeply") from None
    except UnicodeDecodeError:
        raise BodyRefused("the body is not valid UTF-8") from None
    return body


if tuple(StateCounts.__struct_fields__) != STATES:
    raise ImportError(f"StateCounts fields differ from the case states {STATES}")
