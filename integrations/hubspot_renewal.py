"""HubSpot: the renewal deal of a submitted renewal handoff, with the brief as its note.

Endpoints, through the HubSpot adapter's `VendorHttp`:
- GET  /crm/v3/objects/deals/{id}?properties=...&associations=companies,contacts  (the deal renewed)
- GET  /crm/v4/objects/{companies|contacts}/{id}/associations/deals                 (look first)
- POST /crm/v3/objects/deals/batch/read                                             (look first)
- POST /crm/v3/objects/deals   with `associations` (company: type 5, primary; contacts: type 3)
- the note through `HubSpotCrm.add_deal_note` (POST /crm/v3/objects/notes, looked for first)

HubSpot takes no idempotency key, so the deal carries the brief's marker at the end of its
`description` (a property only the app writes there), and a retry after an uncertain try reads
the deals of the renewed deal's company (else of its first contact) for it before creating.
Associations are read directly, not through the search index, so a deal just made is found.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from integrations.http import VendorHttp
from integrations.ports import CreatedRecord, HandoffBrief, RenewalDeal, RenewalDealRequest

log = logging.getLogger(__name__)

VENDOR = "hubspot"
# HubSpot-defined association types from a deal (HubSpot's association type id table).
DEAL_TO_PRIMARY_COMPANY = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}
DEAL_TO_CONTACT = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}
PAGE_LIMIT = 500  # v4 associations list maximum page size
BATCH_LIMIT = 100  # inputs per batch/read
NAME_MAX = 255
VALUE_MAX = 3000  # per brief item in the note (a form answer's own limit)
NOTE_BUDGET = 60_000  # of the note body's 65,536 characters, leaving room for the marker

AddNote = Callable[[str, str, str], CreatedRecord]  # (deal id, html body, marker) -> the note


def marker_tag(marker: str) -> str:
    """The text that ends the deal's description; brackets keep 'handoff-4' from 'handoff-42'."""
    return f"[ref: {marker}]"


class RenewalDealWriter:
    """Creates the renewal deal and its note exactly once per brief marker."""

    def __init__(
        self, http: VendorHttp, add_note: AddNote, deal_url: Callable[[str], str | None]
    ) -> None:
        self._http = http
        self._add_note = add_note
        self._deal_url = deal_url

    def create(self, request: RenewalDealRequest, *, look_first: bool) -> RenewalDeal:
        source = self._get(
            f"/crm/v3/objects/deals/{request.source_deal_id}",
            {
                "properties": ["dealname", "hubspot_owner_id"],
                "associations": ["companies", "contacts"],
            },
        )
        props = _properties(source)
        owner = props.get("hubspot_owner_id")
        companies, contacts = _ids(source, "companies"), _ids(source, "contacts")
        marker = request.brief.marker
        anchor = ("companies", companies[0]) if companies else None
        if anchor is None and contacts:
            anchor = ("contacts", contacts[0])
        deal_id = self._find(anchor, marker_tag(marker)) if look_first and anchor else None
        if deal_id is not None:
            log.info("hubspot_renewal_deal_exists deal_id=%s", deal_id)
        else:
            deal_id = self._create(request, owner, props.get("dealname"), companies, contacts)
            log.info(
                "hubspot_renewal_deal_created deal_id=%s source=%s contacts=%d",
                deal_id,
                request.source_deal_id,
                len(contacts),
            )
        note = self._add_note(deal_id, note_html(request.brief), marker)
        record = CreatedRecord(
            vendor=VENDOR,
            kind="deal",
            external_id=deal_id,
            url=self._deal_url(deal_id),
            extra_ids=(note.external_id,),
        )
        return RenewalDeal(record=record, owner_id=owner)

    def _create(
        self,
        request: RenewalDealRequest,
        owner: str | None,
        source_name: str | None,
        companies: Sequence[str],
        contacts: Sequence[str],
    ) -> str:
        renewed = f"Renewal of {source_name}" if source_name else "Renewal"
        properties = {
            "dealname": request.name[:NAME_MAX],
            "amount": format(request.amount, "f"),
            "deal_currency_code": request.currency,
            "closedate": f"{request.close_date.isoformat()}T00:00:00.000Z",
            "pipeline": request.pipeline_id,
            "dealstage": request.stage_id,
            "description": f"{renewed}, handed back by ops in Slack.\n"
            f"{marker_tag(request.brief.marker)}",
        }
        if owner:
            properties["hubspot_owner_id"] = owner
        associations = [
            *({"to": {"id": c}, "types": [DEAL_TO_PRIMARY_COMPANY]} for c in companies[:1]),
            *({"to": {"id": c}, "types": [DEAL_TO_CONTACT]} for c in contacts),
        ]
        body = {"properties": properties, "associations": associations}
        response = self._http.request("POST", "/crm/v3/objects/deals", json=body)
        return str(response.json()["id"])

    def _find(self, anchor: tuple[str, str], tag: str) -> str | None:
        """Id of a deal on the anchor record whose description ends with `tag`."""
        for page in self._deal_id_pages(*anchor):
            for start in range(0, len(page), BATCH_LIMIT):
                chunk = page[start : start + BATCH_LIMIT]
                for deal in self._read_descriptions(chunk):
                    if str(_properties(deal).get("description") or "").rstrip().endswith(tag):
                        return str(deal["id"])
        return None

    def _deal_id_pages(self, object_type: str, object_id: str) -> Iterator[list[str]]:
        params: dict[str, Any] = {"limit": PAGE_LIMIT}
        path = f"/crm/v4/objects/{object_type}/{object_id}/associations/deals"
        while True:
            page = self._get(path, params)
            yield [str(item["toObjectId"]) for item in page.get("results") or []]
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
            params = {**params, "after": after}

    def _read_descriptions(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        body = {
            "properties": ["description"],
            "propertiesWithHistory": [],
            "inputs": [{"id": deal_id} for deal_id in ids],
        }
        response = self._http.request(
            "POST", "/crm/v3/objects/deals/batch/read", json=body, safe_to_repeat=True
        )
        results = response.json().get("results") or []
        return [deal for deal in results if isinstance(deal, dict)]

    def _get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        body = self._http.request("GET", path, params=params).json()
        return body if isinstance(body, dict) else {}


def note_html(brief: HandoffBrief) -> str:
    """The brief as the note's HTML: every section and answer, the Slack thread linked."""
    esc = html.escape
    parts = [f"<p><strong>{esc(brief.title)}</strong></p>", f"<p>{esc(brief.summary)}</p>"]
    if brief.slack_thread_url:
        parts.append(f'<p>Slack thread: <a href="{esc(brief.slack_thread_url)}">open</a></p>')
    used = sum(len(p) for p in parts)
    for section in brief.sections:
        items = []
        for item in section.items:
            value = item.value if len(item.value) <= VALUE_MAX else item.value[:VALUE_MAX] + "…"
            text = esc(value).replace("\n", "<br>")
            items.append(f"<li><strong>{esc(item.label)}:</strong> {text}</li>")
        block = f"<h3>{esc(section.title)}</h3><ul>{''.join(items)}</ul>"
        if used + len(block) > NOTE_BUDGET:
            parts.append("<p>The rest of the handoff is in its Slack thread.</p>")
            break
        parts.append(block)
        used += len(block)
    return "".join(parts)


def _properties(record: Mapping[str, Any]) -> dict[str, str]:
    props = record.get("properties") or {}
    return {key: str(value) for key, value in props.items() if value not in (None, "")}


def _ids(record: Mapping[str, Any], kind: str) -> list[str]:
    """Associated ids of one kind, once each (labelled associations repeat an id)."""
    group = (record.get("associations") or {}).get(kind) or {}
    ids = [str(item["id"]) for item in group.get("results") or [] if item.get("id") is not None]
    return list(dict.fromkeys(ids))
