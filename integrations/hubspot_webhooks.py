"""HubSpot webhook requests: signature checks and event parsing. Pure functions, no I/O.

Signatures (HubSpot "Validating requests" docs; algorithm as in hubspot-api-python signature.py):
- v3: `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(client_secret, method + uri + body +
  timestamp)), with `X-HubSpot-Request-Timestamp` in epoch milliseconds. Preferred: it is the
  only version that carries a timestamp, so the only one that resists replays.
- v1: `X-HubSpot-Signature` = hex(SHA-256(client_secret + body)); v2 adds method and URI. Both are
  legacy (no timestamp) and only checked when the org config allows it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SignatureVersion = Literal["v1", "v2", "v3"]

V3_SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
LEGACY_SIGNATURE_HEADER = "X-HubSpot-Signature"
LEGACY_VERSION_HEADER = "X-HubSpot-Signature-Version"

MAX_TIMESTAMP_SKEW_MS = 300_000  # hubspot-api-python MAX_ALLOWED_TIMESTAMP = 300 s
MAX_EVENTS = 100  # HubSpot batches at most 100 events per request

# v3 only: HubSpot signs the URI with these percent-escapes decoded (docs' table); nothing else.
_V3_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_V3_ESCAPE = re.compile("|".join(_V3_DECODED), re.IGNORECASE)
# re.ASCII digits only: int() would also take " 12", "1_2" and non-ASCII digits.
_TIMESTAMP = re.compile(r"[0-9]{1,16}", re.ASCII)


# --- signatures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureCheck:
    """Outcome of checking one request: which signature version was checked and why it failed."""

    ok: bool
    version: SignatureVersion | None
    reason: str  # a log-safe token: matched, mismatch, stale_timestamp, ...


def decode_v3_uri(uri: str) -> str:
    """The URI as HubSpot signs it for v3: only the documented percent-escapes decoded."""
    return _V3_ESCAPE.sub(lambda match: _V3_DECODED[match.group(0).upper()], uri)


def timestamp_problem(timestamp_header: str | None, now_ms: int) -> str | None:
    """Why a v3 timestamp header is unacceptable (bad_timestamp, stale_timestamp), else None."""
    if timestamp_header is None or not _TIMESTAMP.fullmatch(timestamp_header):
        return "bad_timestamp"
    # Future timestamps are bounded too, so a request signed by a fast clock cannot be replayed
    # for longer than the same window.
    if abs(now_ms - int(timestamp_header)) >= MAX_TIMESTAMP_SKEW_MS:
        return "stale_timestamp"
    return None


def verify_v3(
    client_secret: str,
    method: str,
    uri: str,
    raw_body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    now_ms: int,
) -> bool:
    """True when the v3 signature matches and the timestamp is within 300 s of now_ms."""
    if not signature_header or timestamp_header is None:
        return False
    if timestamp_problem(timestamp_header, now_ms):
        return False
    source = b"".join(
        (method.encode(), decode_v3_uri(uri).encode(), raw_body, timestamp_header.encode())
    )
    digest = hmac.new(client_secret.encode(), source, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), signature_header.encode())


def verify_v1(client_secret: str, raw_body: bytes, signature: str | None) -> bool:
    """True when `signature` is hex SHA-256 of client_secret + body (legacy, no replay guard)."""
    return _hex_matches(client_secret.encode() + raw_body, signature)


def verify_v2(
    client_secret: str, method: str, uri: str, raw_body: bytes, signature: str | None
) -> bool:
    """True when `signature` is hex SHA-256 of secret + method + exact URI + body (legacy)."""
    return _hex_matches(
        client_secret.encode() + method.encode() + uri.encode() + raw_body, signature
    )


def _hex_matches(source: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    expected = hashlib.sha256(source).hexdigest().encode()
    return hmac.compare_digest(expected, signature.lower().encode())


def check_signature(
    client_secret: str,
    *,
    method: str,
    uri: str,
    raw_body: bytes,
    headers: Mapping[str, str],
    now_ms: int,
    allow_legacy: bool = False,
) -> SignatureCheck:
    """Check a request's HubSpot signature; `uri` is the full public URL HubSpot called."""
    v3_signature = _header(headers, V3_SIGNATURE_HEADER)
    if v3_signature is not None:
        # Never fall back to v1/v2 when v3 is present: that would let a replayed request whose
        # v3 timestamp has expired pass on its timestamp-free legacy signature.
        return _check_v3(client_secret, method, uri, raw_body, headers, v3_signature, now_ms)
    if not allow_legacy:
        return SignatureCheck(ok=False, version=None, reason="no_v3_signature")
    return _check_legacy(client_secret, method, uri, raw_body, headers)


def _check_v3(
    client_secret: str,
    method: str,
    uri: str,
    raw_body: bytes,
    headers: Mapping[str, str],
    signature: str,
    now_ms: int,
) -> SignatureCheck:
    timestamp = _header(headers, TIMESTAMP_HEADER)
    problem = timestamp_problem(timestamp, now_ms)
    if problem:
        return SignatureCheck(ok=False, version="v3", reason=problem)
    ok = verify_v3(client_secret, method, uri, raw_body, timestamp, signature, now_ms)
    return SignatureCheck(ok=ok, version="v3", reason="matched" if ok else "mismatch")


def _check_legacy(
    client_secret: str, method: str, uri: str, raw_body: bytes, headers: Mapping[str, str]
) -> SignatureCheck:
    signature = _header(headers, LEGACY_SIGNATURE_HEADER)
    declared = (_header(headers, LEGACY_VERSION_HEADER) or "").strip().lower()
    version: SignatureVersion
    if declared == "v1":
        version, ok = "v1", verify_v1(client_secret, raw_body, signature)
    elif declared == "v2":
        version, ok = "v2", verify_v2(client_secret, method, uri, raw_body, signature)
    else:
        return SignatureCheck(ok=False, version=None, reason="no_known_signature")
    return SignatureCheck(ok=ok, version=version, reason="matched" if ok else "mismatch")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (plain dicts in tests, framework maps in the app)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


# --- events -------------------------------------------------------------------------------------


class MalformedWebhook(ValueError):
    """The body is not a HubSpot event batch; the message says what is wrong, never the data."""


class HubSpotEvent(BaseModel):
    """One webhook event; attributes are snake_case, validated from HubSpot's camelCase keys."""

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        validate_by_alias=True,
        validate_by_name=True,
        # sourceId and propertyValue are strings in the captures; tolerate numbers there.
        coerce_numbers_to_str=True,
    )

    event_id: int = Field(alias="eventId")
    subscription_id: int = Field(alias="subscriptionId")
    portal_id: int = Field(alias="portalId")
    app_id: int = Field(alias="appId")
    occurred_at: int = Field(alias="occurredAt", description="epoch milliseconds")
    subscription_type: str = Field(alias="subscriptionType")
    attempt_number: int = Field(alias="attemptNumber")
    object_id: int = Field(alias="objectId")
    change_source: str = Field(alias="changeSource")
    change_flag: str | None = Field(default=None, alias="changeFlag")
    source_id: str | None = Field(default=None, alias="sourceId")
    property_name: str | None = Field(default=None, alias="propertyName")
    property_value: str | None = Field(default=None, alias="propertyValue")


def is_deal_stage_change(item: Mapping[str, Any]) -> bool:
    """True for the one kind of event the gate acts on: a deal's stage changed."""
    return (
        item.get("subscriptionType") == "deal.propertyChange"
        and item.get("propertyName") == "dealstage"
    )


def parse_events(raw_body: bytes) -> list[HubSpotEvent]:
    """The events of one delivery; raises MalformedWebhook naming the first problem found."""
    return parse_batch(raw_body)[0]


def parse_batch(
    raw_body: bytes, wanted: Callable[[Mapping[str, Any]], bool] | None = None
) -> tuple[list[HubSpotEvent], int]:
    """(the wanted events, how many the batch held); raises MalformedWebhook.

    Events `wanted` turns down (association changes, other properties) are skipped unread: a
    shape the app never uses must not fail the batch, or HubSpot retries it for a day and the
    won event in it is lost.
    """
    try:
        data = json.loads(raw_body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise MalformedWebhook("body is not valid JSON") from None
    if not isinstance(data, list):
        raise MalformedWebhook(f"body is not a JSON array (got {_json_type(data)})")
    if len(data) > MAX_EVENTS:
        raise MalformedWebhook(f"body holds {len(data)} events, more than the {MAX_EVENTS} allowed")
    events = [
        _parse_event(index, item)
        for index, item in enumerate(data)
        if wanted is None or not _typed(item) or wanted(item)
    ]
    return events, len(data)


def _typed(item: Any) -> bool:
    """An object that says what it is: only such an event may be skipped as not wanted."""
    return isinstance(item, dict) and isinstance(item.get("subscriptionType"), str)


def _parse_event(index: int, item: Any) -> HubSpotEvent:
    """One event; `index` is its 0-based position in the array, used in error messages."""
    if not isinstance(item, dict):
        raise MalformedWebhook(f"event {index} is not a JSON object (got {_json_type(item)})")
    try:
        return HubSpotEvent.model_validate(item)
    except ValidationError as exc:
        raise MalformedWebhook(_describe_error(index, exc)) from None


def _describe_error(index: int, exc: ValidationError) -> str:
    """The first validation problem, without the offending value (it may be personal data)."""
    error = exc.errors(include_input=False, include_url=False)[0]
    field = ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing":
        return f"event {index} missing field {field}"
    return f"event {index} field {field}: {error['msg']}"


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def is_own_change(event: HubSpotEvent, app_id: int | str) -> bool:
    """True when our own app made the change (so the app should not react to its own write)."""
    # `appId` is the app *receiving* the webhook, not the one that made the change: the CRM_UI
    # capture (a person editing in HubSpot) carries appId too. So appId alone would mark every
    # event as ours. The author of an integration's change is in sourceId, set to the acting
    # app's id when changeSource is INTEGRATION (the captures of the app's own API writes).
    return event.change_source == "INTEGRATION" and event.source_id == str(app_id)
