"""A local stand-in for the HubSpot CRM API (the v3/v4 shapes described in shared/contracts)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from tests.support.stub_server import Recorded, Reply, StubServer


@dataclass
class FakeHubSpot:
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, str]] = field(default_factory=dict)
    companies: dict[str, dict[str, str]] = field(default_factory=dict)
    owners: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    line_items: dict[str, dict[str, str]] = field(default_factory=dict)
    labels: dict[str, list[str]] = field(default_factory=dict)  # contact id -> deal labels
    stage_changes: list[tuple[str, str]] = field(default_factory=list)
    fail_next: list[Reply] = field(default_factory=list)
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
        self.owners[owner_id] = {"id": owner_id, "email": owner_email, "firstName": "Sam"}
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

    def _handle(self, request: Recorded) -> Reply:
        if self.fail_next:
            return self.fail_next.pop(0)
        path = request.path
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
                deal["properties"]["dealstage"] = stage
                self.stage_changes.append((match.group(1), stage))
            return Reply(200, self._deal_body(match.group(1), deal))
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
        if match := re.fullmatch(r"/crm/v4/objects/deals/(\d+)/associations/notes", path):
            ids = [n for n, note in self.notes.items() if note["deal"] == match.group(1)]
            return Reply(200, {"results": [{"toObjectId": int(i)} for i in ids]})
        if path == "/crm/v3/objects/notes/batch/read":
            ids = [i["id"] for i in request.json["inputs"]]
            return Reply(
                200,
                {
                    "results": [
                        {"id": i, "properties": {"hs_note_body": self.notes[i]["body"]}}
                        for i in ids
                        if i in self.notes
                    ]
                },
            )
        if path == "/crm/v3/objects/notes" and request.method == "POST":
            note_id = str(next(self._ids))
            body = request.json
            deal = str(body["associations"][0]["to"]["id"])
            self.notes[note_id] = {"deal": deal, "body": body["properties"]["hs_note_body"]}
            return Reply(201, {"id": note_id, "properties": body["properties"]})
        return Reply(404, {"message": f"no route {request.method} {path}"})

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
