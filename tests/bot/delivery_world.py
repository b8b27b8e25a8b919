"""A world for the delivery-complete tests (issue 9): the app, its ops and finance tools played by
stand-ins, and, over HTTP, its own web routes on 127.0.0.1 so Asana can handshake and deliver
events to them. Built on tests/bot/test_delivery.py's `World`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bot.config import parse_org_config
from bot.server import build_wsgi
from storage.models import Handoff, HandoffKind, OutboxJob, VendorWebhook
from tests.bot.conftest import HANDOFF_CHANNEL, OPS_MEMBER, Harness, org_dict
from tests.bot.test_delivery import ENV, FULL, NAMES, REALM, TOOLS, XERO_TENANT, World
from tests.bot.test_handoff_flow import click, submit
from tests.integrations.fakes import FakeQuickBooks, FakeXero
from tests.support.fake_asana import FakeAsana
from tests.support.fake_jira import FakeJira
from tests.support.fake_slack import FakeSlack, Posted
from tests.support.slack_state import initial_values
from tests.support.stub_server import Recorded, Reply, StubServer
from tests.support.web_server import AppServer

# The sale: everything as in test_delivery's FULL, on 45-day terms (not the old fixed net 30).
SALE: dict[str, Any] = {**FULL, "payment_terms_days": "45"}
QBO_TERMS = {30: "3", 45: "4"}
PO_FIELD = "2"  # the QuickBooks custom field holding the PO number


@dataclass
class DeliveryWorld(World):
    server: AppServer | None = None

    def sale(self) -> int:
        """A won, submitted and fully delivered sale (its ops and finance records exist)."""
        origin = self.submit(SALE)
        self.settle()
        return origin

    def deliveries(self) -> list[Handoff]:
        with self.h.services.uow() as uow:
            stmt = select(Handoff).where(Handoff.kind == HandoffKind.DELIVERY_TO_FINANCE)
            return list(uow.session.scalars(stmt))

    def delivery(self) -> Handoff:
        [handoff] = self.deliveries()
        return self.handoff(handoff.id)  # with its receipts and records

    def requests_for_form(self) -> list[Posted]:
        """The DMs asking for a delivery -> finance form, to anyone."""
        return [
            p
            for p in self.h.slack.messages
            if p.channel.startswith("D-") and "please tell finance what to invoice" in p.text
        ]

    def thread_notes(self, origin: int) -> list[Posted]:
        ts = self.handoff(origin).thread_ts
        posts = self.h.slack.in_channel(HANDOFF_CHANNEL, thread_ts=ts)
        return [p for p in posts if "Delivery complete" in p.text]

    def hook_rows(self) -> list[VendorWebhook]:
        with self.h.services.uow() as uow:
            return list(uow.session.scalars(select(VendorWebhook)))

    def check_jobs(self) -> list[OutboxJob]:
        with self.h.services.uow() as uow:
            stmt = select(OutboxJob).where(OutboxJob.action == "delivery.check")
            return list(uow.session.scalars(stmt))

    def open_delivery_form(self, user: str = OPS_MEMBER) -> tuple[str, dict[str, Any]]:
        """Press the DM's *Complete handoff* button; the form as Slack shows it."""
        delivery = self.delivery()
        response = click(self.h, "open_form", str(delivery.id), user=user)
        assert response.status == 200
        view_id = list(self.h.slack.views)[-1]
        return view_id, self.h.slack.views[view_id]

    def submit_delivery(
        self, view_id: str, form: dict[str, Any], typed: dict[str, Any], user: str = OPS_MEMBER
    ) -> Any:
        """Submit the form as prefilled, with `typed` changed (None clears a field)."""
        values = {**initial_values(form), **typed}
        response = submit(
            self.h, view_id, form, {k: v for k, v in values.items() if v is not None}, user
        )
        assert response.status == 200, response.body
        return json.loads(response.body or "{}")


DeliveryWorldFactory = Callable[..., DeliveryWorld]


@contextmanager
def delivery_world_factory(
    make_harness: Callable[..., Harness],
) -> Iterator[DeliveryWorldFactory]:
    with ExitStack() as stack:

        def build(
            ops: str = "asana", finance: str = "quickbooks", *, http: bool = False, **org: Any
        ) -> DeliveryWorld:
            server = stack.enter_context(AppServer()) if http else None
            asana, jira = FakeAsana(), FakeJira()
            qbo, xero = FakeQuickBooks(REALM), FakeXero(XERO_TENANT)
            handlers: dict[str, Callable[[Recorded], Reply]] = {
                "asana": asana,
                "jira": jira,
                "quickbooks": qbo.handle,
                "xero": xero.handle,
            }
            servers = {
                vendor: stack.enter_context(StubServer(handlers[vendor]))
                for vendor in (ops, finance)
            }
            raw = {**org_dict(), **org}
            raw["teams"]["ops"]["tool"] = TOOLS[ops](servers[ops].url)
            finance_tool = TOOLS[finance](servers[finance].url)
            if finance == "quickbooks":
                finance_tool.update(term_refs=QBO_TERMS, po_custom_field_id=PO_FIELD)
            raw["teams"]["finance"]["tool"] = finance_tool
            slack = FakeSlack(
                users_by_email={"sam@seller.example": "U0SELLER"},
                usergroups={"S0OPS": [OPS_MEMBER]},
                names=dict(NAMES),
            )
            h = make_harness(
                org=parse_org_config(raw),
                env=ENV,
                slack=slack,
                public_url=server.url if server else None,
            )
            # Requests only enqueue; the test drains, as the worker would after the ack.
            services = h.services
            services.kick = services.handoffs.kick = lambda: None
            services.delivery.kick = services.delivery_hooks.kick = lambda: None
            if server is not None:
                server.app = build_wsgi(services)
            return DeliveryWorld(h, servers, asana, jira, qbo, xero, server)

        yield build
