"""HubSpot CRM adapter: read a deal for the handoff form, move its stage, log a note on it.

Endpoints (CRM v3 objects, v4 associations, v3 owners), all through the shared `VendorHttp`:
- GET   /crm/v3/objects/deals/{id}?properties=...&associations=contacts,companies,line_items
- POST  /crm/v3/objects/{contacts|notes|line_items}/batch/read   (reads: safe to repeat)
- GET   /crm/v3/objects/companies/{id}?properties=name,address,...
- GET   /crm/v4/objects/{deals|companies}/{id}/associations/contacts  (contact roles: labels)
- PATCH /crm/v3/objects/deals/{id}                     (setting a value: safe to repeat)
- GET   /crm/v3/owners/{ownerId}
- GET   /crm/v4/objects/deals/{id}/associations/notes
- POST  /crm/v3/objects/notes                          (a create: never repeated blindly)
- PATCH /crm/v3/objects/notes/{id}                     (rewriting a note's body: safe to repeat)
- POST  /crm/v3/objects/deals/search                   (the won-deal sweep, backfill; reads)
- GET   /crm/v3/pipelines/deals/{pipelineId}           (`check --live`: stage ids and labels)
- POST  /crm/v3/objects/deals                          (a renewal deal: `hubspot_renewal`)
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import requests
from pydantic import BaseModel, ConfigDict, field_validator

from integrations.http import VendorHttp
from integrations.hubspot_history import HistoryReader, RateWindow
from integrations.hubspot_renewal import RenewalDealWriter
from integrations.ports import (
    ClosedDealPage,
    CreatedRecord,
    DealContact,
    DealInStage,
    DealLineItem,
    DealSearchPage,
    DealSnapshot,
    HistoryEntry,
    HistoryQuery,
    NotFound,
    RenewalDeal,
    RenewalDealRequest,
)

if TYPE_CHECKING:
    from integrations.registry import VendorContext

log = logging.getLogger(__name__)

VENDOR = "hubspot"
DEAL_PROPERTIES = (
    "dealname",
    "dealstage",
    "pipeline",
    "amount",
    "deal_currency_code",
    "closedate",
    "hubspot_owner_id",
)
CONTACT_PROPERTIES = ("firstname", "lastname", "email", "phone", "jobtitle")
LINE_ITEM_PROPERTIES = (
    "name",
    "quantity",
    "price",
    "amount",
    "hs_total_discount",
    "recurringbillingfrequency",
)
COMPANY_PROPERTIES = ("name", "address", "address2", "city", "state", "zip", "country")
_ADDRESS_LINES = (("address",), ("address2",), ("city", "state", "zip"), ("country",))
BATCH_READ_LIMIT = 100  # inputs per CRM batch/read request
ASSOCIATION_PAGE_LIMIT = 500  # v4 associations list maximum page size
NOTE_TO_DEAL = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}
# CRM search limits (https://developers.hubspot.com/docs/api/crm/search, "Limitations"): at most
# 200 records per page, at most 10,000 results per query (paging past that is refused with a 400),
# and the search endpoints have their own rate limit, 4-5 requests per second per account
# (https://developers.hubspot.com/changelog/crm-search-api-rate-limit-increase says 4 per token),
# on top of the account's general limits.
SEARCH_PAGE_LIMIT = 200
SEARCH_RESULT_CAP = 10_000
SEARCH_REQUESTS_PER_SECOND = 4

_OBJECT_ID = re.compile(r"[1-9][0-9]{0,19}", re.ASCII)
# 0-3 is the deal object type id; app-eu1 and similar hosts serve other data centres.
_DEAL_URL = re.compile(
    r"https://app(?:-[a-z0-9]+)?\.hubspot\.com/contacts/[0-9]+/(?:record/0-3|deal)/"
    r"([1-9][0-9]{0,19})(?:[/?#].*)?",
    re.ASCII | re.IGNORECASE,
)


class HubSpotConfig(BaseModel):
    """The `hubspot` settings block of the organisation file."""

    # Ignore keys we do not own: the service layer keeps its stage ids in the same block.
    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)

    base_url: str = "https://api.hubapi.com"
    token_env: str = "HUBSPOT_TOKEN"
    portal_id: str | None = None
    app_host: str = "https://app.hubspot.com"  # e.g. https://app-eu1.hubspot.com for EU portals
    # Our share of the private app's 100 (Starter) / 190 (Pro) requests per 10 s, for history reads.
    history_requests_per_10s: int = 90
    # HubSpot has no standard contract dates: name the portal's own deal properties, if any.
    term_start_property: str | None = None
    term_end_property: str | None = None

    @field_validator("portal_id")
    @classmethod
    def _numeric_portal(cls, value: str | None) -> str | None:
        if value is not None and not (value.isascii() and value.isdigit()):
            raise ValueError("portal_id must be the numeric HubSpot account id")
        return value


class HubSpotCrm:
    """The `Crm` port over HubSpot's REST API, authenticated with a private-app token."""

    vendor = VENDOR

    def __init__(
        self,
        config: HubSpotConfig,
        http: VendorHttp,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),  # injectable for tests
    ) -> None:
        self._config = config
        self._http = http
        self._clock = clock
        self._history = HistoryReader(
            http,
            portal_id=config.portal_id,
            app_host=config.app_host,
            window=RateWindow(config.history_requests_per_10s),
        )
        self._renewals = RenewalDealWriter(http, self.add_deal_note, self.deal_url)

    # --- deals ----------------------------------------------------------------------------------

    def get_deal(self, deal_id: str) -> DealSnapshot:
        """The deal with its contacts and first company; NotFound when no such deal exists."""
        deal_id = _require_deal_id(deal_id)
        term_properties = [
            p for p in (self._config.term_start_property, self._config.term_end_property) if p
        ]
        deal = self._get(
            f"/crm/v3/objects/deals/{deal_id}",
            {
                "properties": [*DEAL_PROPERTIES, *term_properties],
                "associations": ["contacts", "companies", "line_items"],
            },
        )
        props = _properties(deal)
        contact_ids = _associated_ids(deal, "contacts")
        company_ids = _associated_ids(deal, "companies")
        company = self._company(company_ids[0]) if company_ids else {}
        roles = self._contact_roles("deals", deal_id) if contact_ids else {}
        if company_ids:
            # The company's labelled contacts (e.g. its billing contact) count even when the
            # salesperson never added them to the deal.
            for contact_id, labels in self._contact_roles("companies", company_ids[0]).items():
                roles[contact_id] = tuple(dict.fromkeys((*roles.get(contact_id, ()), *labels)))
                if labels and contact_id not in contact_ids:
                    contact_ids.append(contact_id)
        start_key, end_key = self._config.term_start_property, self._config.term_end_property
        snapshot = DealSnapshot(
            deal_id=deal_id,
            name=props.get("dealname", ""),
            stage=props.get("dealstage"),
            pipeline=props.get("pipeline"),
            amount=_decimal(props.get("amount"), deal_id),
            currency=props.get("deal_currency_code"),
            close_date=_date(props.get("closedate"), deal_id),
            owner_id=props.get("hubspot_owner_id"),
            company_name=company.get("name") or None,
            contacts=self._contacts(contact_ids, roles),
            url=self.deal_url(deal_id),
            line_items=self._line_items(_associated_ids(deal, "line_items")),
            term_start=_date(props.get(start_key), deal_id) if start_key else None,
            term_end=_date(props.get(end_key), deal_id) if end_key else None,
            company_address=_address(company),
        )
        log.info(
            "hubspot_deal_read deal_id=%s contacts=%d companies=%d",
            deal_id,
            len(snapshot.contacts),
            len(company_ids),
        )
        return snapshot

    def move_deal_stage(self, deal_id: str, stage_id: str) -> None:
        """Set the deal's `dealstage` (HubSpot takes every property value as a string)."""
        deal_id = _require_deal_id(deal_id)
        self._http.request(
            "PATCH",
            f"/crm/v3/objects/deals/{deal_id}",
            json={"properties": {"dealstage": str(stage_id)}},
            safe_to_repeat=True,  # writing the same value twice changes nothing
        )
        log.info("hubspot_deal_stage_moved deal_id=%s stage=%s", deal_id, stage_id)

    def deals_in_stage(
        self,
        pipeline_id: str,
        stage_id: str,
        modified_since: datetime,
        *,
        after: str | None = None,
    ) -> DealSearchPage:
        """One page of the deals in a stage modified at or after `modified_since`, oldest first."""
        since_ms = str(int(modified_since.timestamp() * 1000))
        modified = {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": since_ms}
        entered = _entered_properties(stage_id)
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "pipeline", "operator": "EQ", "value": pipeline_id},
                        {"propertyName": "dealstage", "operator": "EQ", "value": stage_id},
                        modified,
                    ]
                }
            ],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["dealstage", "pipeline", "hs_lastmodifieddate", *entered],
            "limit": SEARCH_PAGE_LIMIT,
        }
        if after is not None:
            body["after"] = after
        response = self._http.request(
            "POST", "/crm/v3/objects/deals/search", json=body, safe_to_repeat=True
        )
        payload = response.json()
        data: dict[str, Any] = payload if isinstance(payload, dict) else {}
        deals = []
        for record in data.get("results") or []:
            if not isinstance(record, dict):
                continue
            props = _properties(record)
            last_modified = _timestamp(props.get("hs_lastmodifieddate")) or _timestamp(
                record.get("updatedAt")
            )
            if last_modified is None:
                continue
            entered_at = next(
                (t for t in (_timestamp(props.get(name)) for name in entered) if t), None
            )
            deals.append(
                DealInStage(
                    deal_id=str(record.get("id")),
                    stage=props.get("dealstage", ""),
                    last_modified=last_modified,
                    entered_stage_at=entered_at,
                )
            )
        next_page = ((data.get("paging") or {}).get("next") or {}).get("after")
        return DealSearchPage(
            deals=tuple(deals),
            next_after=str(next_page) if next_page is not None else None,
            total=int(data.get("total") or 0),
        )

    def deals_closed_since(
        self, pipeline_id: str, stage_id: str, since: date, *, after: str | None = None
    ) -> ClosedDealPage:
        """One page of the deals in a (won) stage closed on or after `since`, oldest close first
        (the backfill of historic accounts)."""
        since_ms = str(int(datetime.combine(since, time(0), tzinfo=UTC).timestamp() * 1000))
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "pipeline", "operator": "EQ", "value": pipeline_id},
                        {"propertyName": "dealstage", "operator": "EQ", "value": stage_id},
                        {"propertyName": "closedate", "operator": "GTE", "value": since_ms},
                    ]
                }
            ],
            "sorts": [{"propertyName": "closedate", "direction": "ASCENDING"}],
            "properties": ["dealstage", "closedate"],
            "limit": SEARCH_PAGE_LIMIT,
        }
        if after is not None:
            body["after"] = after
        response = self._http.request(
            "POST", "/crm/v3/objects/deals/search", json=body, safe_to_repeat=True
        )
        payload = response.json()
        data: dict[str, Any] = payload if isinstance(payload, dict) else {}
        ids: list[str] = []
        closes: list[date] = []
        for record in data.get("results") or []:
            if isinstance(record, dict) and record.get("id") is not None:
                ids.append(str(record["id"]))
                closed = _timestamp(_properties(record).get("closedate"))
                if closed is not None:
                    closes.append(closed.date())
        next_page = ((data.get("paging") or {}).get("next") or {}).get("after")
        return ClosedDealPage(
            deal_ids=tuple(ids),
            last_close=max(closes, default=None),
            next_after=str(next_page) if next_page is not None else None,
            total=int(data.get("total") or 0),
        )

    def pipeline_stages(self, pipeline_id: str) -> dict[str, str]:
        """The pipeline's stages as {stage id: label}; NotFound when there is no such pipeline."""
        body = self._get(f"/crm/v3/pipelines/deals/{pipeline_id}", None)
        stages = body.get("stages") or []
        return {
            str(stage.get("id")): str(stage.get("label"))
            for stage in stages
            if isinstance(stage, dict)
        }

    def deal_url(self, deal_id: str) -> str | None:
        """Link to the deal record in the HubSpot app; None when portal_id is not configured."""
        if self._config.portal_id is None:
            return None
        host = self._config.app_host.rstrip("/")
        return f"{host}/contacts/{self._config.portal_id}/record/0-3/{deal_id}"

    def deal_history(self, deal_id: str, query: HistoryQuery) -> tuple[HistoryEntry, ...]:
        """Notes, calls, meetings (emails if asked) of the deal, its company and contacts."""
        return self._history.read(_require_deal_id(deal_id), query)

    def create_renewal_deal(self, request: RenewalDealRequest, *, look_first: bool) -> RenewalDeal:
        """The renewal deal beside the deal renewed, with the brief as its note (exactly once)."""
        _require_deal_id(request.source_deal_id)
        return self._renewals.create(request, look_first=look_first)

    # --- owners ---------------------------------------------------------------------------------

    def owner_email(self, owner_id: str) -> str | None:
        """The owner's email (to find them in Slack); None when HubSpot has no such owner."""
        if not _OBJECT_ID.fullmatch(owner_id):
            log.info("hubspot_owner_id_invalid")
            return None
        try:
            owner = self._get(f"/crm/v3/owners/{owner_id}", None)
        except NotFound:
            log.info("hubspot_owner_not_found owner_id=%s", owner_id)
            return None
        email = owner.get("email")
        return email if isinstance(email, str) and email else None

    # --- notes ----------------------------------------------------------------------------------

    def add_deal_note(self, deal_id: str, html_body: str, marker: str) -> CreatedRecord:
        """Log a note on the deal exactly once per marker: an existing one is returned instead.

        There is one call path, look then create, because the Crm port carries no "first
        attempt" flag and a create that timed out may have succeeded: the marker text written
        into the note body is how a retry recognises it.
        """
        deal_id = _require_deal_id(deal_id)
        if not marker.strip():
            raise ValueError("add_deal_note needs a non-empty marker to stay exactly-once")
        tag = html.escape(_marker_tag(marker))
        note_id = self._find_note(deal_id, tag)
        if note_id is not None:
            log.info("hubspot_note_exists deal_id=%s note_id=%s", deal_id, note_id)
        else:
            note_id = self._create_note(deal_id, f"{html_body}<p>{tag}</p>")
            log.info("hubspot_note_created deal_id=%s note_id=%s", deal_id, note_id)
        return CreatedRecord(
            vendor=VENDOR, kind="note", external_id=note_id, url=self.deal_url(deal_id)
        )

    def update_deal_note(self, note_id: str, html_body: str, marker: str) -> None:
        """Rewrite a note's body in place (same marker); NotFound when the note was deleted."""
        if not (note_id.isascii() and note_id.isdigit()):
            raise NotFound(VENDOR, "not a HubSpot note id")
        tag = html.escape(_marker_tag(marker))
        self._http.request(
            "PATCH",
            f"/crm/v3/objects/notes/{note_id}",
            json={"properties": {"hs_note_body": f"{html_body}<p>{tag}</p>"}},
            safe_to_repeat=True,  # writing the same body twice changes nothing
        )
        log.info("hubspot_note_updated note_id=%s", note_id)

    def _find_note(self, deal_id: str, tag: str) -> str | None:
        """Id of a note on the deal whose body ends with `tag`, reading bodies 100 at a time.

        Only the end counts: the app writes the tag last, while the body before it holds form
        text that may quote another handoff's tag (a later handoff of the same deal).
        """
        ending = f"<p>{tag}</p>"
        for page in self._note_id_pages(deal_id):
            for chunk in _chunks(page, BATCH_READ_LIMIT):
                for note in self._batch_read("notes", chunk, ("hs_note_body",)):
                    body = str(_properties(note).get("hs_note_body") or "").rstrip()
                    if body.endswith(ending):
                        return str(note["id"])
        return None

    def _note_id_pages(self, deal_id: str) -> Iterator[list[str]]:
        """Ids of the notes associated with the deal, one v4 associations page at a time."""
        params: dict[str, Any] = {"limit": ASSOCIATION_PAGE_LIMIT}
        while True:
            page = self._get(f"/crm/v4/objects/deals/{deal_id}/associations/notes", params)
            yield [str(item["toObjectId"]) for item in page.get("results") or []]
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
            params = {**params, "after": after}

    def _create_note(self, deal_id: str, body: str) -> str:
        """POST the note with its deal association; returns the new note id."""
        stamp = self._clock().astimezone(UTC).isoformat(timespec="milliseconds")
        payload = {
            "properties": {"hs_note_body": body, "hs_timestamp": stamp.replace("+00:00", "Z")},
            "associations": [{"to": {"id": deal_id}, "types": [NOTE_TO_DEAL]}],
        }
        response = self._http.request("POST", "/crm/v3/objects/notes", json=payload)
        return str(response.json()["id"])

    # --- reads ----------------------------------------------------------------------------------

    def _contacts(
        self, contact_ids: Sequence[str], roles: Mapping[str, tuple[str, ...]]
    ) -> tuple[DealContact, ...]:
        """The contacts in association order (batch/read does not keep the input order)."""
        found: dict[str, DealContact] = {}
        for chunk in _chunks(contact_ids, BATCH_READ_LIMIT):
            for record in self._batch_read("contacts", chunk, CONTACT_PROPERTIES):
                contact = _deal_contact(record)
                found[contact.contact_id] = contact.model_copy(
                    update={"roles": roles.get(contact.contact_id, ())}
                )
        return tuple(found[cid] for cid in contact_ids if cid in found)

    def _contact_roles(self, object_type: str, object_id: str) -> dict[str, tuple[str, ...]]:
        """Contact id -> the association labels it carries on the deal or company."""
        roles: dict[str, tuple[str, ...]] = {}
        params: dict[str, Any] = {"limit": ASSOCIATION_PAGE_LIMIT}
        path = f"/crm/v4/objects/{object_type}/{object_id}/associations/contacts"
        while True:
            page = self._get(path, params)
            for item in page.get("results") or []:
                labels = tuple(
                    str(kind["label"])
                    for kind in item.get("associationTypes") or []
                    if kind.get("label")
                )
                roles[str(item["toObjectId"])] = labels
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return roles
            params = {**params, "after": after}

    def _line_items(self, line_item_ids: Sequence[str]) -> tuple[DealLineItem, ...]:
        """The deal's line items in association order."""
        found: dict[str, DealLineItem] = {}
        for chunk in _chunks(line_item_ids, BATCH_READ_LIMIT):
            for record in self._batch_read("line_items", chunk, LINE_ITEM_PROPERTIES):
                found[str(record["id"])] = _line_item(record)
        return tuple(found[i] for i in line_item_ids if i in found)

    def _company(self, company_id: str) -> dict[str, str]:
        """The company's name and address properties; empty if it vanished between the reads."""
        try:
            company = self._get(
                f"/crm/v3/objects/companies/{company_id}",
                {"properties": list(COMPANY_PROPERTIES)},
            )
        except NotFound:
            return {}
        return _properties(company)

    def _batch_read(
        self, object_type: str, ids: Sequence[str], properties: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Records by id; ids HubSpot does not find are simply absent (207 Multi-Status)."""
        body = {
            "properties": list(properties),
            "propertiesWithHistory": [],
            "inputs": [{"id": object_id} for object_id in ids],
        }
        response = self._http.request(
            "POST", f"/crm/v3/objects/{object_type}/batch/read", json=body, safe_to_repeat=True
        )
        results = response.json().get("results") or []
        return [record for record in results if isinstance(record, dict)]

    def _get(self, path: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        body = self._http.request("GET", path, params=params).json()
        return body if isinstance(body, dict) else {}


# --- construction -------------------------------------------------------------------------------


def build(settings: Mapping[str, Any], ctx: VendorContext) -> HubSpotCrm:
    """Factory used by the registry: settings block + the token from the environment."""
    config = HubSpotConfig.model_validate(dict(settings))
    token = ctx.env.get(config.token_env)
    if not token:
        raise ValueError(f"hubspot: environment variable {config.token_env} is not set")
    headers = {"Authorization": f"Bearer {token}"}
    http = VendorHttp(
        VENDOR,
        config.base_url,
        lambda: headers,
        sleep=ctx.sleep,
        throttle=lambda: ctx.throttle(VENDOR, config.portal_id or ""),
        describe_error=describe_error,
    )
    return HubSpotCrm(config, http)


def describe_error(response: requests.Response) -> tuple[str, str | None]:
    """HubSpot's error `category` and `message` (its standard error body), for VendorError."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}", None
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}: {str(body)[:300]}", None
    category = body.get("category") or "ERROR"
    return f"HTTP {response.status_code} {category}: {str(body.get('message'))[:500]}", None


# --- parsing ------------------------------------------------------------------------------------


def parse_deal_reference(text: str) -> str | None:
    """The deal id in a bare id or a HubSpot deal URL (Slack's <url|label> form too), else None."""
    candidate = text.strip()
    if candidate.startswith("<") and candidate.endswith(">"):
        candidate = candidate[1:-1].split("|", 1)[0].strip()
    if _OBJECT_ID.fullmatch(candidate):
        return candidate
    match = _DEAL_URL.fullmatch(candidate)
    return match.group(1) if match else None


def _require_deal_id(deal_id: str) -> str:
    """The id, checked to be numeric so user text never lands in a request path."""
    deal_id = deal_id.strip()
    if not _OBJECT_ID.fullmatch(deal_id):
        raise NotFound(VENDOR, "not a HubSpot deal id")
    return deal_id


def _marker_tag(marker: str) -> str:
    """The text put in a note body; brackets keep 'handoff-4' from matching 'handoff-42'."""
    return f"[ref: {marker}]"


def _properties(record: Mapping[str, Any]) -> dict[str, str]:
    """A record's properties without nulls and blanks (HubSpot sends values as strings)."""
    props = record.get("properties") or {}
    return {key: str(value) for key, value in props.items() if value not in (None, "")}


def _associated_ids(record: Mapping[str, Any], kind: str) -> list[str]:
    """Associated ids of one kind, de-duplicated: labelled associations repeat an id per label."""
    group = (record.get("associations") or {}).get(kind) or {}
    ids = [str(item["id"]) for item in group.get("results") or [] if item.get("id") is not None]
    return list(dict.fromkeys(ids))


def _deal_contact(record: Mapping[str, Any]) -> DealContact:
    props = _properties(record)
    contact_id = str(record["id"])
    name = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p).strip()
    return DealContact(
        contact_id=contact_id,
        name=name or props.get("email") or f"Contact {contact_id}",
        email=props.get("email"),
        phone=props.get("phone"),
        job_title=props.get("jobtitle"),
    )


def _line_item(record: Mapping[str, Any]) -> DealLineItem:
    props = _properties(record)
    line_id = str(record["id"])
    quantity = _decimal(props.get("quantity"), line_id)
    discount = _decimal(props.get("hs_total_discount"), line_id)
    return DealLineItem(
        name=" ".join(props.get("name", "").split()) or f"Line item {line_id}",
        quantity=quantity if quantity is not None and quantity > 0 else Decimal(1),
        unit_price=_decimal(props.get("price"), line_id),
        amount=_decimal(props.get("amount"), line_id),
        discount=discount if discount else None,
        recurring=props.get("recurringbillingfrequency"),
    )


def _address(company: Mapping[str, str]) -> str | None:
    """The company's address, one line per part that is present."""
    lines = [
        " ".join(company[key] for key in keys if company.get(key)).strip()
        for keys in _ADDRESS_LINES
    ]
    return "\n".join(line for line in lines if line) or None


def _decimal(value: str | None, deal_id: str) -> Decimal | None:
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():  # Decimal also parses "NaN" and "Infinity"
        log.warning("hubspot_deal_amount_unreadable deal_id=%s", deal_id)
        return None
    return amount


def _date(value: str | None, deal_id: str) -> date | None:
    """The UTC calendar date of an ISO-8601 datetime such as 2026-03-31T00:00:00Z."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        log.warning("hubspot_deal_closedate_unreadable deal_id=%s", deal_id)
        return None
    # A naive value has no zone to convert from; astimezone() would assume the server's.
    return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()


def _entered_properties(stage_id: str) -> tuple[str, ...]:
    """The deal properties holding when a deal entered the stage (newer name first)."""
    key = re.sub(r"[^0-9a-z_]", "_", stage_id.lower())
    return (f"hs_v2_date_entered_{key}", f"hs_date_entered_{key}")


def _timestamp(value: object) -> datetime | None:
    """A HubSpot datetime property: ISO 8601 text or epoch milliseconds; None when unreadable."""
    if value is None or value == "":
        return None
    text = str(value)
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
