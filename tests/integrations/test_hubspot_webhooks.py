"""HubSpot webhook signatures (against HubSpot's own vectors) and event parsing (real captures)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import pytest

from integrations.hubspot_webhooks import (
    MAX_EVENTS,
    HubSpotEvent,
    MalformedWebhook,
    check_signature,
    decode_v3_uri,
    is_own_change,
    parse_events,
    verify_v1,
    verify_v2,
    verify_v3,
)
from tests.support.openapi_check import contracts_dir

CONTRACTS = contracts_dir() / "hubspot"
VECTORS: dict[str, Any] = json.loads(
    (CONTRACTS / "webhook_signature_test_vectors.json").read_text()
)
SECRET: str = VECTORS["client_secret"]
BODY: bytes = VECTORS["request_body"].encode()
URL: str = VECTORS["url"]
CAPTURES = sorted((CONTRACTS / "webhooks").glob("*.json"))


def _case(version: str, method: str = "POST") -> dict[str, Any]:
    return next(
        c for c in VECTORS["cases"] if c["version"] == version and c["http_method"] == method
    )


V3 = _case("v3")
V3_TIMESTAMP = str(V3["timestamp"])
V3_NOW_MS = V3["timestamp"] + 1_000  # one second after HubSpot signed it


def _capture(path: Path) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = json.loads(path.read_text())["body"]
    return body


def _raw(events: Any) -> bytes:
    return json.dumps(events).encode()


def _sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """Sign an already-decoded source string, as HubSpot does (recipe from the shared vectors)."""
    source = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def _event(**overrides: Any) -> dict[str, Any]:
    event = dict(_capture(CONTRACTS / "webhooks" / "deal.propertyChange.dealstage.json")[0])
    event.update(overrides)
    return event


# --- signatures: HubSpot's vectors --------------------------------------------------------------


def test_verify_v3_accepts_hubspot_vector() -> None:
    assert verify_v3(SECRET, "POST", URL, BODY, V3_TIMESTAMP, V3["expected"], V3_NOW_MS)


def test_verify_v1_accepts_hubspot_vector() -> None:
    assert verify_v1(SECRET, BODY, _case("v1")["expected"])


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_verify_v2_accepts_hubspot_vectors(method: str) -> None:
    case = _case("v2", method)
    body = case.get("request_body_override", VECTORS["request_body"]).encode()
    assert verify_v2(SECRET, method, URL, body, case["expected"])


def test_verify_v1_rejects_wrong_secret_and_wrong_body() -> None:
    signature = _case("v1")["expected"]
    assert not verify_v1("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", BODY, signature)
    assert not verify_v1(SECRET, BODY + b" ", signature)
    assert not verify_v1(SECRET, BODY, None)


def test_verify_v1_rejects_a_v2_signature() -> None:
    assert not verify_v1(SECRET, BODY, _case("v2")["expected"])


@pytest.mark.parametrize(
    ("secret", "method", "uri", "body"),
    [
        ("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "POST", URL, BODY),
        (SECRET, "POST", URL, BODY + b" "),
        (SECRET, "PUT", URL, BODY),
        (SECRET, "POST", URL + "?x=1", BODY),
    ],
    ids=["wrong-secret", "wrong-body", "wrong-method", "wrong-uri"],
)
def test_verify_v3_rejects_altered_request(secret: str, method: str, uri: str, body: bytes) -> None:
    assert not verify_v3(secret, method, uri, body, V3_TIMESTAMP, V3["expected"], V3_NOW_MS)


def test_verify_v3_rejects_timestamp_older_than_300_seconds() -> None:
    assert verify_v3(
        SECRET, "POST", URL, BODY, V3_TIMESTAMP, V3["expected"], V3["timestamp"] + 299_999
    )
    assert not verify_v3(
        SECRET, "POST", URL, BODY, V3_TIMESTAMP, V3["expected"], V3["timestamp"] + 300_000
    )


def test_verify_v3_rejects_timestamp_more_than_300_seconds_ahead() -> None:
    now_ms = V3["timestamp"] - 300_000
    assert not verify_v3(SECRET, "POST", URL, BODY, V3_TIMESTAMP, V3["expected"], now_ms)


@pytest.mark.parametrize(
    "timestamp",
    [
        None,
        "",
        "abc",
        "15000000.0",
        " 15000000",
        "15_000_000",
        "-15000000",
        "\u0661\u0665\u0660\u0660\u0660\u0660\u0660\u0660",
        "9" * 40,
    ],
)
def test_verify_v3_rejects_non_numeric_timestamp(timestamp: str | None) -> None:
    assert not verify_v3(SECRET, "POST", URL, BODY, timestamp, V3["expected"], V3_NOW_MS)


@pytest.mark.parametrize("signature", [None, "", "not base64 at all", "é" * 44])
def test_verify_v3_rejects_missing_or_garbage_signature(signature: str | None) -> None:
    assert not verify_v3(SECRET, "POST", URL, BODY, V3_TIMESTAMP, signature, V3_NOW_MS)


# --- signatures: v3 URI decoding ----------------------------------------------------------------


def test_decode_v3_uri_decodes_only_the_documented_escapes() -> None:
    encoded = "https://x.test/a%3Ab%2Fc%3Fd%40e%21f%24g%27h%28i%29j%2Ak%2Cl%3Bm%20n%26o%3Dp%25q"
    assert decode_v3_uri(encoded) == "https://x.test/a:b/c?d@e!f$g'h(i)j*k,l;m%20n%26o%3Dp%25q"


def test_decode_v3_uri_accepts_lowercase_hex() -> None:
    assert decode_v3_uri("https://x.test/hook?next=%2fa%3ab") == "https://x.test/hook?next=/a:b"


def test_verify_v3_signs_the_decoded_uri() -> None:
    received = "https://handoff.example/hubspot/events?org=acme%3Aeu&back=%2Fhome%20page"
    signed = "https://handoff.example/hubspot/events?org=acme:eu&back=/home%20page"
    signature = _sign_v3(SECRET, "POST", signed, BODY, V3_TIMESTAMP)
    assert verify_v3(SECRET, "POST", received, BODY, V3_TIMESTAMP, signature, V3_NOW_MS)


def test_verify_v3_does_not_decode_other_escapes() -> None:
    received = "https://handoff.example/hubspot/events?name=a%20b"
    signature = _sign_v3(
        SECRET, "POST", "https://handoff.example/hubspot/events?name=a b", BODY, V3_TIMESTAMP
    )
    assert not verify_v3(SECRET, "POST", received, BODY, V3_TIMESTAMP, signature, V3_NOW_MS)


# --- signatures: picking the version ------------------------------------------------------------


def _v3_headers(signature: str = V3["expected"], timestamp: str = V3_TIMESTAMP) -> dict[str, str]:
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp}


def _v1_headers() -> dict[str, str]:
    return {"X-HubSpot-Signature": _case("v1")["expected"], "X-HubSpot-Signature-Version": "v1"}


def _check(headers: dict[str, str], *, allow_legacy: bool = False, now_ms: int = V3_NOW_MS) -> Any:
    return check_signature(
        SECRET,
        method="POST",
        uri=URL,
        raw_body=BODY,
        headers=headers,
        now_ms=now_ms,
        allow_legacy=allow_legacy,
    )


def test_check_signature_reports_v3_match() -> None:
    result = _check(_v3_headers())
    assert (result.ok, result.version, result.reason) == (True, "v3", "matched")


def test_check_signature_finds_headers_in_any_case() -> None:
    headers = {key.lower(): value for key, value in _v3_headers().items()}
    assert _check(headers).ok


@pytest.mark.parametrize(
    ("headers", "now_ms", "reason"),
    [
        (_v3_headers(signature="AAAA"), V3_NOW_MS, "mismatch"),
        (_v3_headers(timestamp="soon"), V3_NOW_MS, "bad_timestamp"),
        (_v3_headers(), V3["timestamp"] + 600_000, "stale_timestamp"),
        ({"X-HubSpot-Signature-v3": V3["expected"]}, V3_NOW_MS, "bad_timestamp"),
    ],
    ids=["mismatch", "bad-timestamp", "stale", "no-timestamp"],
)
def test_check_signature_says_why_v3_failed(
    headers: dict[str, str], now_ms: int, reason: str
) -> None:
    result = _check(headers, now_ms=now_ms)
    assert (result.ok, result.version, result.reason) == (False, "v3", reason)


def test_check_signature_rejects_v1_unless_org_allows_legacy() -> None:
    refused = _check(_v1_headers())
    allowed = _check(_v1_headers(), allow_legacy=True)
    assert (refused.ok, refused.version, refused.reason) == (False, None, "no_v3_signature")
    assert (allowed.ok, allowed.version, allowed.reason) == (True, "v1", "matched")


def test_check_signature_never_falls_back_to_v1_when_v3_fails() -> None:
    stale_replay = {**_v1_headers(), **_v3_headers()}
    result = _check(stale_replay, allow_legacy=True, now_ms=V3["timestamp"] + 3_600_000)
    assert (result.ok, result.version, result.reason) == (False, "v3", "stale_timestamp")


def test_check_signature_rejects_unknown_legacy_version() -> None:
    headers = {**_v1_headers(), "X-HubSpot-Signature-Version": "v9"}
    result = _check(headers, allow_legacy=True)
    assert (result.ok, result.version, result.reason) == (False, None, "no_known_signature")


# --- events -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_parse_events_reads_every_capture_field(path: Path) -> None:
    captured = _capture(path)
    events = parse_events(_raw(captured))
    assert len(events) == len(captured) == 1
    assert events[0].model_dump(by_alias=True, exclude_none=True) == captured[0]


def test_parse_events_maps_custom_pipeline_stage_change() -> None:
    (event,) = parse_events(
        _raw(
            _capture(CONTRACTS / "webhooks" / "deal.propertyChange.dealstage.custom_pipeline.json")
        )
    )
    assert event == HubSpotEvent(
        event_id=802835955,
        subscription_id=92894,
        portal_id=5799819,
        app_id=186886,
        occurred_at=1556094637139,
        subscription_type="deal.propertyChange",
        attempt_number=0,
        object_id=697680835,
        change_source="CRM_UI",
        property_name="dealstage",
        property_value="1f4f1ec1-8174-49f3-a112-4eaa4748e38e",
    )


def test_parse_events_ignores_unknown_keys() -> None:
    (event,) = parse_events(_raw([_event(isSensitive=False, newField={"a": 1})]))
    assert event.property_value == "qualifiedtobuy"


def test_parse_events_accepts_a_full_batch_of_100() -> None:
    events = parse_events(_raw([_event(eventId=n) for n in range(MAX_EVENTS)]))
    assert [e.event_id for e in events] == list(range(MAX_EVENTS))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "body is not valid JSON"),
        (b"[{", "body is not valid JSON"),
        (b"\xff\xfe[]", "body is not valid JSON"),
        (b'{"eventId": 1}', "body is not a JSON array (got object)"),
        (b'"events"', "body is not a JSON array (got string)"),
        (_raw([_event()] * 101), "body holds 101 events, more than the 100 allowed"),
        (_raw([_event(), 7]), "event 1 is not a JSON object (got number)"),
        (
            _raw([_event(), {k: v for k, v in _event().items() if k != "eventId"}]),
            "event 1 missing field eventId",
        ),
        (
            _raw([{k: v for k, v in _event().items() if k != "changeSource"}]),
            "event 0 missing field changeSource",
        ),
    ],
    ids=[
        "empty",
        "truncated",
        "not-utf8",
        "object",
        "string",
        "too-many",
        "not-object",
        "missing-eventId",
        "missing-changeSource",
    ],
)
def test_parse_events_rejects_malformed_body(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedWebhook, match=f"^{re.escape(message)}$"):
        parse_events(raw)


def test_parse_events_names_field_of_wrong_type_without_its_value() -> None:
    with pytest.raises(MalformedWebhook) as caught:
        parse_events(_raw([_event(objectId="jane.doe@example.com")]))
    assert str(caught.value).startswith("event 0 field objectId: ")
    assert "jane.doe" not in str(caught.value)


# --- own changes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["deal.creation", "deal.propertyChange.amount", "deal.propertyChange.dealstage"]
)
def test_is_own_change_true_for_our_integration_writes(name: str) -> None:
    (event,) = parse_events(_raw(_capture(CONTRACTS / "webhooks" / f"{name}.json")))
    assert is_own_change(event, 39522895)
    assert is_own_change(event, "39522895")


def test_is_own_change_false_for_another_integration() -> None:
    (event,) = parse_events(_raw([_event(sourceId="11111")]))
    assert not is_own_change(event, 39522895)


def test_is_own_change_false_for_a_person_in_hubspot_even_though_app_id_matches() -> None:
    (event,) = parse_events(
        _raw(
            _capture(CONTRACTS / "webhooks" / "deal.propertyChange.dealstage.custom_pipeline.json")
        )
    )
    assert event.app_id == 186886
    assert not is_own_change(event, 186886)


# --- found alive by ./scripts/mutation ------------------------------------------------------------


def test_check_signature_refuses_legacy_by_default() -> None:
    result = check_signature(
        SECRET, method="POST", uri=URL, raw_body=BODY, headers=_v1_headers(), now_ms=V3_NOW_MS
    )
    assert (result.ok, result.version, result.reason) == (False, None, "no_v3_signature")


def _v2_headers(method: str = "POST", declared: str = "v2") -> dict[str, str]:
    return {
        "X-HubSpot-Signature": _case("v2", method)["expected"],
        "X-HubSpot-Signature-Version": declared,
    }


@pytest.mark.parametrize("declared", ["v2", " V2 "])
def test_check_signature_accepts_v2_when_legacy_is_allowed(declared: str) -> None:
    result = _check(_v2_headers(declared=declared), allow_legacy=True)
    assert (result.ok, result.version, result.reason) == (True, "v2", "matched")


@pytest.mark.parametrize(
    ("method", "uri", "body", "secret"),
    [
        ("PUT", URL, BODY, SECRET),
        ("POST", URL + "?x=1", BODY, SECRET),
        ("POST", URL, BODY + b" ", SECRET),
        ("POST", URL, BODY, SECRET + "x"),
    ],
    ids=["method", "uri", "body", "secret"],
)
def test_check_signature_v2_covers_method_uri_body_and_secret(
    method: str, uri: str, body: bytes, secret: str
) -> None:
    result = check_signature(
        secret,
        method=method,
        uri=uri,
        raw_body=body,
        headers=_v2_headers(),
        now_ms=V3_NOW_MS,
        allow_legacy=True,
    )
    assert (result.ok, result.version, result.reason) == (False, "v2", "mismatch")


def test_check_signature_v1_mismatch_says_so() -> None:
    headers = {**_v1_headers(), "X-HubSpot-Signature": "00" * 32}
    result = _check(headers, allow_legacy=True)
    assert (result.ok, result.version, result.reason) == (False, "v1", "mismatch")


# A missing version header defaults to "" before matching "v1"/"v2"; any other default that is
# neither ("XXXX") refuses the same way: that mutant is equivalent.
def test_check_signature_without_a_declared_legacy_version_is_refused() -> None:
    headers = {"X-HubSpot-Signature": _case("v1")["expected"]}
    result = _check(headers, allow_legacy=True)
    assert (result.ok, result.version, result.reason) == (False, None, "no_known_signature")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[[1]]", "event 0 is not a JSON object (got array)"),
        (b"[true]", "event 0 is not a JSON object (got boolean)"),
        (b"[null]", "event 0 is not a JSON object (got null)"),
        (b"[1.5]", "event 0 is not a JSON object (got number)"),
    ],
)
def test_parse_events_names_the_json_type_it_got(raw: bytes, message: str) -> None:
    # _describe_error builds its text from the error's loc, type and msg only, so asking pydantic
    # for the input or the docs URL (include_input/include_url) changes nothing we show, and a
    # flat model's loc has one part, so its separator never appears: those mutants are equivalent.
    with pytest.raises(MalformedWebhook, match=f"^{re.escape(message)}$"):
        parse_events(raw)
