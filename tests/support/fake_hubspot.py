"""A local stand-in for the HubSpot CRM API (the v3/v4 shapes described in shared/contracts)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.support.stub_server import Recorded, Reply, StubServer


@dataclass
class FakeHubSpot:
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, str]] = field(default_factory=dict)
    companies: dict[str, dict[str, str]] = field(default_factory=dict)
    owners: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # engagement id -> {"kind": "notes"|"calls"|..., "properties": {...}, "on": [(type, id)...]}
    engagements: dict[str, dict[str, Any]] = field(default_factory=dict)
    line_items: dict[str, dict[str, str]] = field(default_factory=dict)
    labels: dict[str, list[str]] = field(default_factory=dict)  # contact id -> deal labels
    stage_changes: list[tuple[str, str]] = field(default_factory=list)
    page_size: int = 500  # associations per page, lowered by tests to exercise paging
    fail_next: list[Reply] = field(default_factory=list)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    pipelines: dict[str, dict[str, str]] = field(
        default_factory=lambda: {
            "default": {"appointmentscheduled": "Appointment scheduled", "closedwon": "Closed won"}
        }
    )
    search_max_total: int = 10_000  # HubSpot refuses to page past 10,000 results
    # Search index lag: while set, search answers from this copy of the deals' properties.
    index: dict[str, dict[str, Any]] | None = None
    token: str | None = None  # the private-app token accepted (None: any)
    # Deals created through the API, in order (renewal deals): their ids.
    created_deals: list[str] = field(default_factory=list)
    lose_next_create: int = 0  # make the next deal creations, then answer 504 (response lost)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9000))
    server: StubServer | None = None

    def serving(self) -> StubServer:
        self.server = StubServer(self._handle)
        return self.server

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def add_deal(
        self,
        deal_id: str,
        *,
        name: str = "Acme rollout",
        stage: str = "closedwon",
        amount: str = "36000",
        currency: str = "GBP",
        owner_id: str = "501",
        owner_email: str = "sam@seller.example",
        company: str = "Acme Ltd",
        contacts: tuple[dict[str, str], ...] = (),
        modified: datetime | None = None,
        line_items: tuple[dict[str, str], ...] = (),
        company_address: dict[str, str] | None = None,
        extra_properties: dict[str, str] | None = None,
    ) -> None:
        contact_ids = []
        for contact in contacts:
            cid = str(next(self._ids))
            labels = contact.get("labels")
            self.contacts[cid] = {k: v for k, v in contact.items() if k != "labels"}
            if labels:
                self.labels[cid] = labels.split(";")
            contact_ids.append(cid)
        line_item_ids = []
        for item in line_items:
            lid = str(next(self._ids))
            self.line_items[lid] = item
            line_item_ids.append(lid)
        company_id = str(next(self._ids))
        self.companies[company_id] = {"name": company, **(company_address or {})}
        self.owners[owner_id] = {
            "id": owner_id,
            "email": owner_email,
            "firstName": "Sam",
            "lastName": "Seller",
        }
        self.deals[deal_id] = {
            "properties": {
                "dealname": name,
                "dealstage": stage,
                "amount": amount,
                "deal_currency_code": currency,
                "hubspot_owner_id": owner_id,
                "closedate": "2026-11-20T10:00:00.000Z",
                "pipeline": "default",
                **(extra_properties or {}),
            },
            "contacts": contact_ids,
            "companies": [company_id],
            "line_items": line_item_ids,
        }
        self._touch(deal_id, stage, modified)

    def set_stage(self, deal_id: str, stage: str, at: datetime | None = None) -> None:
        """Someone moves the deal in HubSpot's UI (no webhook is sent by this stand-in)."""
        self.deals[deal_id]["properties"]["dealstage"] = stage
        self._touch(deal_id, stage, at)

    def freeze_index(self) -> None:
        """Searches see the deals as they are now until `thaw_index` (HubSpot's index lag)."""
        self.index = {k: dict(v["properties"]) for k, v in self.deals.items()}

    def thaw_index(self) -> None:
        self.index = None

    def _touch(self, deal_id: str, stage: str, at: datetime | None) -> None:
        stamp = _iso(at or self.clock())
        props = self.deals[deal_id]["properties"]
        props["hs_lastmodifieddate"] = stamp
        props[f"hs_v2_date_entered_{stage}"] = stamp

    def add_engagement(
        self,
        kind: str,
        *,
        on: tuple[tuple[str, str], ...],
        timestamp: str,
        owner_id: str | None = "501",
        **properties: str,
    ) -> str:
        """An engagement (`notes`, `calls`, `meetings`, `emails`) on records: (("deals", id),)."""
        engagement_id = str(next(self._ids))
        props = {"hs_timestamp": timestamp, **properties}
        if owner_id:
            props["hubspot_owner_id"] = owner_id
        self.engagements[engagement_id] = {"kind": kind, "properties": props, "on": list(on)}
        return engagement_id

    def company_of(self, deal_id: str) -> str:
        return str(self.deals[deal_id]["companies"][0])

    def contacts_of(self, deal_id: str) -> list[str]:
        return [str(c) for c in self.deals[deal_id]["contacts"]]

    def _associations(self, request: Recorded, from_type: str, from_id: str, to: str) -> Reply:
        """v4 associations list, paged by `limit` (at most 500) and an opaque `after` cursor."""
        ids = [
            i
            for i, e in self.engagements.items()
            if e["kind"] == to and (from_type, from_id) in e["on"]
        ]
        if from_type == "deals" and to == "notes":
            ids += [n for n, note in self.notes.items() if note["deal"] == from_id]
        limit = int(request.query.get("limit", ["500"])[0])
        assert limit <= 500, "HubSpot caps an associations page at 500"
        limit = min(limit, self.page_size)
        start = int(request.query.get("after", ["0"])[0])
        page = ids[start : start + limit]
        body: dict[str, Any] = {
            "results": [
                {
                    "toObjectId": int(i),
                    "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 1}],
                }
                for i in page
            ]
        }
        if start + limit < len(ids):
            body["paging"] = {"next": {"after": str(start + limit), "link": "?after="}}
        return Reply(200, body)

    def _batch_read_engagements(self, request: Recorded, kind: str) -> Reply:
        """batch/read: only the asked properties come back; unknown ids are left out."""
        inputs = request.json["inputs"]
        assert len(inputs) <= 100, "HubSpot batch/read takes at most 100 inputs"
        wanted = request.json.get("properties") or []
        results = []
        for item in inputs:
            engagement = self.engagements.get(item["id"])
            if engagement is not None and engagement["kind"] == kind:
                props = engagement["properties"]
                results.append(
                    {
                        "id": item["id"],
                        "properties": {p: props.get(p) for p in wanted},
                        "createdAt": "2026-11-01T10:00:00.000Z",
                        "updatedAt": "2026-11-01T10:00:00.000Z",
                        "archived": False,
                    }
                )
            elif kind == "notes" and item["id"] in self.notes:
                results.append(
                    {
                        "id": item["id"],
                        "properties": {"hs_note_body": self.notes[item["id"]]["body"]},
                    }
                )
        return Reply(200, {"status": "COMPLETE", "results": results})

    def _handle(self, request: Recorded) -> Reply:
        if self.fail_next:
            return self.fail_next.pop(0)
        if self.token and request.header("Authorization") != f"Bearer {self.token}":
            return Reply(401, {"status": "error", "category": "INVALID_AUTHENTICATION"})
        path = request.path
        if path == "/crm/v3/pipelines/deals":
            return Reply(
                200,
                {"results": [{"id": k, "label": "Sales pipeline"} for k in self.pipelines]},
            )
        if match := re.fullmatch(
            r"/crm/v4/objects/(deals|companies|contacts)/(\d+)/associations/"
            r"(notes|calls|meetings|emails)",
            path,
        ):
            return self._associations(request, *match.groups())
        if match := re.fullmatch(r"/crm/v3/objects/(notes|calls|meetings|emails)/batch/read", path):
            return self._batch_read_engagements(request, match.group(1))
        if path == "/crm/v3/objects/deals" and request.method == "POST":
            return self._create_deal(request.json)
        if path == "/crm/v3/objects/deals/batch/read" and request.method == "POST":
            return self._batch_read_deals(request.json)
        if match := re.fullmatch(
            r"/crm/v4/objects/(companies|contacts)/(\d+)/associations/deals", path
        ):
            return self._deals_of(request, *match.groups())
        if match := re.fullmatch(r"/crm/v3/objects/deals/(\d+)", path):
            deal = self.deals.get(match.group(1))
            if deal is None:
                return Reply(
                    404,
                    {
                        "status": "error",
                        "message": "Object not found",
                        "category": "OBJECT_NOT_FOUND",
                    },
                )
            if request.method == "PATCH":
                stage = request.json["properties"]["dealstage"]
                self.set_stage(match.group(1), stage)
                self.stage_changes.append((match.group(1), stage))
            return Reply(200, self._deal_body(match.group(1), deal))
        if path == "/crm/v3/objects/deals/search" and request.method == "POST":
            return self._search(request.json)
        if match := re.fullmatch(r"/crm/v3/pipelines/deals/([^/]+)", path):
            stages = self.pipelines.get(match.group(1))
            if stages is None:
                return Reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND"})
            return Reply(
                200,
                {
                    "id": match.group(1),
                    "label": "Sales pipeline",
                    "stages": [{"id": k, "label": v} for k, v in stages.items()],
                },
            )
        if path == "/crm/v3/objects/line_items/batch/read":
            ids = [i["id"] for i in request.json["inputs"]]
            found = [
                {"id": i, "properties": self.line_items[i]} for i in ids if i in self.line_items
            ]
            return Reply(200, {"status": "COMPLETE", "results": found})
        if match := re.fullmatch(
            r"/crm/v4/objects/(deals|companies)/(\d+)/associations/contacts", path
        ):
            ids = self.deals[match.group(2)]["contacts"] if match.group(1) == "deals" else []
            results = [
                {
                    "toObjectId": int(i),
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None},
                        *(
                            {"category": "USER_DEFINED", "typeId": 40, "label": label}
                            for label in self.labels.get(i, [])
                        ),
                    ],
                }
                for i in ids
            ]
            return Reply(200, {"results": results})
        if path == "/crm/v3/objects/contacts/batch/read":
            ids = [i["id"] for i in request.json["inputs"]]
            return Reply(
                200,
                {
                    "status": "COMPLETE",
                    "results": [
                        {"id": i, "properties": self.contacts[i]} for i in ids if i in self.contacts
                    ],
                },
            )
        if match := re.fullmatch(r"/crm/v3/objects/companies/(\d+)", path):
            company = self.companies[match.group(1)]
            wanted = request.query.get("properties") or list(company)
            props = {key: company.get(key) for key in wanted}
            return Reply(200, {"id": match.group(1), "properties": props})
        if match := re.fullmatch(r"/crm/v3/owners/(\d+)", path):
            owner = self.owners.get(match.group(1))
            return Reply(200, owner) if owner else Reply(404, {"message": "not found"})
        if path == "/crm/v3/objects/notes" and request.method == "POST":
            note_id = str(next(self._ids))
            body = request.json
            deal = str(body["associations"][0]["to"]["id"])
            self.notes[note_id] = {"deal": deal, "body": body["properties"]["hs_note_body"]}
            return Reply(201, {"id": note_id, "properties": body["properties"]})
        if match := re.fullmatch(r"/crm/v3/objects/notes/(\d+)", path):
            note = self.notes.get(match.group(1))
            if note is None:
                return Reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND"})
            if request.method == "PATCH":
                properties = request.json["properties"]
                assert all(isinstance(v, str) for v in properties.values()), "values are strings"
                if "hs_note_body" in properties:
                    note["body"] = properties["hs_note_body"]
                    note["updates"] = note.get("updates", 0) + 1
            return Reply(
                200,
                {
                    "id": match.group(1),
                    "properties": {"hs_note_body": note["body"]},
                    "createdAt": "2026-11-01T10:00:00.000Z",
                    "updatedAt": _iso(self.clock()),
                    "archived": False,
                },
            )
        return Reply(404, {"message": f"no route {request.method} {path}"})

    # Association types from a deal (HubSpot-defined): to its primary company, to a company, to a
    # contact. Anything else is refused, as HubSpot refuses an unknown type for the pair.
    DEAL_ASSOCIATION_TYPES = {5: "companies", 341: "companies", 3: "contacts"}

    def _create_deal(self, body: dict[str, Any]) -> Reply:
        """POST /crm/v3/objects/deals: SimplePublicObjectInputForCreate (properties as strings,
        `associations` as [{to: {id}, types: [{associationCategory, associationTypeId}]}])."""
        assert set(body) <= {"properties", "associations"}, f"unknown keys {set(body)}"
        properties = body["properties"]
        assert all(isinstance(v, str) for v in properties.values()), "values are strings"
        for required in ("dealname", "dealstage", "pipeline"):
            if not properties.get(required):
                return Reply(400, {"status": "error", "category": "VALIDATION_ERROR"})
        if properties["dealstage"] not in self.pipelines.get(properties["pipeline"], {}):
            message = f"{properties['dealstage']} is not a valid deal stage of this pipeline"
            return Reply(
                400, {"status": "error", "category": "VALIDATION_ERROR", "message": message}
            )
        linked: dict[str, list[str]] = {"companies": [], "contacts": []}
        for association in body.get("associations") or []:
            assert set(association) == {"to", "types"}, association
            target = str(association["to"]["id"])
            for kind in association["types"]:
                assert kind["associationCategory"] == "HUBSPOT_DEFINED", kind
                to = self.DEAL_ASSOCIATION_TYPES.get(kind["associationTypeId"])
                known = self.companies if to == "companies" else self.contacts
                if to is None or target not in known:
                    return Reply(400, {"status": "error", "category": "VALIDATION_ERROR"})
                linked[to].append(target)
        deal_id = str(next(self._ids))
        self.deals[deal_id] = {
            "properties": dict(properties),
            "contacts": list(dict.fromkeys(linked["contacts"])),
            "companies": list(dict.fromkeys(linked["companies"])),
            "line_items": [],
        }
        self._touch(deal_id, properties["dealstage"], None)
        self.created_deals.append(deal_id)
        if self.lose_next_create:
            self.lose_next_create -= 1
            return Reply(504, {"status": "error", "message": "gateway timeout"})
        return Reply(201, self._deal_body(deal_id, self.deals[deal_id]))

    def _batch_read_deals(self, body: dict[str, Any]) -> Reply:
        inputs = body["inputs"]
        assert len(inputs) <= 100, "HubSpot batch/read takes at most 100 inputs"
        wanted = body.get("properties") or []
        found = [
            {
                "id": i["id"],
                "properties": {p: self.deals[i["id"]]["properties"].get(p) for p in wanted},
            }
            for i in inputs
            if i["id"] in self.deals
        ]
        return Reply(200, {"status": "COMPLETE", "results": found})

    def _deals_of(self, request: Recorded, from_type: str, from_id: str) -> Reply:
        """v4 associations from a company or contact to its deals, paged like the others."""
        ids = [d for d, deal in self.deals.items() if from_id in deal.get(from_type, [])]
        limit = min(int(request.query.get("limit", ["500"])[0]), self.page_size)
        start = int(request.query.get("after", ["0"])[0])
        body: dict[str, Any] = {
            "results": [
                {
                    "toObjectId": int(i),
                    "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 6}],
                }
                for i in ids[start : start + limit]
            ]
        }
        if start + limit < len(ids):
            body["paging"] = {"next": {"after": str(start + limit), "link": "?after="}}
        return Reply(200, body)

    def _search(self, body: dict[str, Any]) -> Reply:
        """CRM search over deals: AND-ed EQ/GTE filters, one sort, `after` as an offset."""
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 0 < limit <= 200:
            return Reply(400, {"status": "error", "category": "VALIDATION_ERROR"})
        [group] = body.get("filterGroups") or [{"filters": []}]
        rows = []
        indexed = self.index or {k: v["properties"] for k, v in self.deals.items()}
        for deal_id, props in indexed.items():
            if all(_matches(props, f) for f in group["filters"]):
                rows.append((deal_id, props))
        [sort] = body.get("sorts") or [{"propertyName": "hs_lastmodifieddate"}]
        rows.sort(
            key=lambda r: _sort_value(r[1].get(sort["propertyName"])),
            reverse=sort.get("direction") == "DESCENDING",
        )
        offset = int(body.get("after") or 0)
        if offset + limit > self.search_max_total:
            return Reply(400, {"status": "error", "category": "VALIDATION_ERROR"})
        page = rows[offset : offset + limit]
        wanted = set(body.get("properties") or [])
        results = [
            {
                "id": deal_id,
                "properties": {k: v for k, v in props.items() if k in wanted},
                "createdAt": "2026-11-01T10:00:00.000Z",
                "updatedAt": props.get("hs_lastmodifieddate"),
                "archived": False,
            }
            for deal_id, props in page
        ]
        reply: dict[str, Any] = {"total": len(rows), "results": results}
        if offset + limit < len(rows):
            reply["paging"] = {"next": {"after": str(offset + limit)}}
        return Reply(200, reply)

    def _deal_body(self, deal_id: str, deal: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": deal_id,
            "properties": dict(deal["properties"]),
            "createdAt": "2026-11-01T10:00:00.000Z",
            "updatedAt": "2026-11-20T10:00:00.000Z",
            "archived": False,
            "associations": {
                "contacts": {
                    "results": [{"id": c, "type": "deal_to_contact"} for c in deal["contacts"]]
                },
                "companies": {
                    "results": [{"id": c, "type": "deal_to_company"} for c in deal["companies"]]
                },
                "line_items": {
                    "results": [
                        {"id": i, "type": "deal_to_line_item"} for i in deal.get("line_items", [])
                    ]
                },
            },
        }


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _sort_value(value: str | None) -> float:
    if value is None:
        return 0.0
    if value.isdigit():
        return float(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000


def _matches(props: dict[str, Any], spec: dict[str, Any]) -> bool:
    value = props.get(spec["propertyName"])
    if spec["operator"] == "EQ":
        return value == spec["value"]
    if spec["operator"] == "GTE":
        return value is not None and _sort_value(value) >= float(spec["value"])
    raise AssertionError(f"operator {spec['operator']} not supported by the stand-in")
