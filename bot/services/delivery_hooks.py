"""The webhooks ops tools send when a delivery is complete (issue 9): their rows, secrets and
registration.

Asana: the app registers one webhook per project it created (a `delivery.watch` outbox job,
queued by the periodic job), posting to `PUBLIC_URL/webhooks/asana/<token>`; Asana's handshake
hands us the signing secret while the registration request is in flight. Jira: an admin adds the
webhook in Jira with the URL and secret `python -m bot jira-webhook` prints. Either way the
secret lives in `vendor_webhooks`, and no log line carries it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bot.services import actions
from bot.services.delivery_complete import as_created, watched_records
from bot.services.outbox import Handler, JobContext
from integrations.asana_webhooks import AsanaWatch
from integrations.ports import VendorRejected
from storage.models import Handoff, VendorWebhook
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

JIRA_SITE = "site"  # a Jira webhook covers the team's whole site, not one issue


@dataclass(frozen=True)
class Hook:
    """What an inbound request needs from its row (the secret stays out of reprs and logs)."""

    id: int
    vendor: str
    team: str
    resource: str
    secret: str | None
    status: str

    def __repr__(self) -> str:
        return f"Hook(id={self.id}, vendor={self.vendor}, team={self.team})"


def new_token() -> str:
    """The random last segment of a webhook's URL."""
    return secrets.token_urlsafe(24)


class DeliveryHooks:
    """Rows of `vendor_webhooks`, and the registration of Asana's."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        asana: Mapping[str, AsanaWatch],
        public_url: str | None,
        kick: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.asana = asana  # by ops team key; empty when Asana webhooks are off
        self.public_url = public_url.rstrip("/") if public_url else None
        self.kick = kick

    def url(self, vendor: str, token: str) -> str:
        return f"{self.public_url}/webhooks/{vendor}/{token}"

    # --- inbound --------------------------------------------------------------------------------

    def hook(self, vendor: str, token: str) -> Hook | None:
        with self.uow() as uow:
            row = uow.session.scalars(
                select(VendorWebhook).where(
                    VendorWebhook.vendor == vendor, VendorWebhook.token == token
                )
            ).first()
            if row is None:
                return None
            return Hook(row.id, row.vendor, row.team, row.resource, row.secret, row.status)

    def accept_handshake(self, hook: Hook, secret: str) -> bool:
        """Store the secret of Asana's handshake, only for a registration we are making."""
        with self.uow() as uow:
            row = uow.session.get(VendorWebhook, hook.id, with_for_update=True)
            if row is None or row.status != "pending" or row.secret is not None:
                return False
            row.secret = secret
            uow.commit()
        log.info("asana_webhook_handshake hook=%s team=%s", hook.id, hook.team)
        return True

    # --- Jira -----------------------------------------------------------------------------------

    def jira_secret(self, team: str) -> tuple[str, str]:
        """A new URL token and secret for the team's Jira webhook (replacing any earlier one)."""
        token, secret = new_token(), secrets.token_hex(32)
        with self.uow() as uow:
            row = uow.session.scalars(
                select(VendorWebhook).where(
                    VendorWebhook.vendor == "jira",
                    VendorWebhook.team == team,
                    VendorWebhook.resource == JIRA_SITE,
                )
            ).first()
            if row is None:
                row = VendorWebhook(vendor="jira", team=team, resource=JIRA_SITE)
                uow.session.add(row)
            row.token, row.secret, row.status = token, secret, "active"
            uow.commit()
        log.info("jira_webhook_secret_created team=%s", team)
        return token, secret

    # --- Asana registration ---------------------------------------------------------------------

    def sweep(self) -> int:
        """Queue a registration for each Asana project in delivery that has no webhook yet."""
        if not self.asana or not self.public_url:
            return 0
        queued = 0
        with self.uow() as uow:
            teams = {team: "asana" for team in self.asana}
            known = {
                (row.team, row.resource)
                for row in uow.session.scalars(
                    select(VendorWebhook).where(VendorWebhook.vendor == "asana")
                )
            }
            for origin_id, team, _vendor, record in watched_records(uow.session, teams):
                if (team, record.external_id) in known:
                    continue
                job = uow.repo.enqueue(
                    uow.session.get(Handoff, origin_id),
                    actions.DELIVERY_WATCH,
                    f"delivery-watch:{origin_id}:{team}",
                    {"team": team},
                )
                queued += job is not None
            uow.commit()
        if queued:
            self.kick()
        return queued

    def register(self, ctx: JobContext) -> dict[str, Any]:
        """Outbox handler: make the project's webhook, unless Asana already has ours."""
        team = str(ctx.payload["team"])
        watch = self.asana.get(team)
        with self.uow() as uow:
            origin = uow.repo.handoff(ctx.handoff_id or 0)
        record = origin.record(team) if origin is not None else None
        if watch is None or self.public_url is None or record is None or not record.external_id:
            return {"skipped": "nothing to watch"}
        project = as_created(record).external_id
        row_id, token, active = self._row(team, project)
        if active:
            return {"skipped": "already registered"}
        target = self.url("asana", token)
        try:
            # After an uncertain try, Asana may hold the webhook (and we its secret) already.
            retry = ctx.uncertain or ctx.attempt > 1
            found = watch.find_webhook(project, target) if retry else None
            if found is None:
                self._expect_handshake(row_id)
            gid, echoed = (found, None) if found else watch.register_webhook(project, target)
        except VendorRejected as exc:
            # E.g. Asana cannot reach PUBLIC_URL: the periodic check still covers the project.
            self._finish(row_id, None, None, failed=True)
            log.warning("asana_webhook_refused project_gid=%s error=%s", project, exc.message)
            return {"registered": False}
        status = self._finish(row_id, gid, echoed, failed=False)
        return {"registered": status == "active", "webhook_gid": gid}

    def _row(self, team: str, project: str) -> tuple[int, str, bool]:
        """The project's row, made if missing: (id, URL token, active)."""
        with self.uow() as uow:
            row = uow.session.scalars(
                select(VendorWebhook).where(
                    VendorWebhook.vendor == "asana",
                    VendorWebhook.team == team,
                    VendorWebhook.resource == project,
                )
            ).first()
            if row is None:
                row = VendorWebhook(
                    vendor="asana", team=team, resource=project, token=new_token(), status="pending"
                )
                if not uow.repo.insert_if_absent(row):
                    raise LookupError(f"webhook row for {team}/{project} made concurrently")
                uow.commit()
            return row.id, row.token, row.status == "active"

    def _expect_handshake(self, row_id: int) -> None:
        """Committed before the request that triggers the handshake: a secret from an earlier
        handshake, whose webhook Asana never kept, is void."""
        with self.uow() as uow:
            row = uow.session.get(VendorWebhook, row_id, with_for_update=True)
            assert row is not None
            row.status, row.secret = "pending", None
            uow.commit()

    def _finish(self, row_id: int, gid: str | None, echoed: str | None, *, failed: bool) -> str:
        with self.uow() as uow:
            row = uow.session.get(VendorWebhook, row_id, with_for_update=True)
            assert row is not None
            if failed:
                row.status = "failed"
            elif row.secret is None and echoed:
                row.secret = echoed  # the handshake reached us, or Asana's answer carries it
            row.external_id = gid or row.external_id
            if not failed:
                mismatch = echoed is not None and row.secret != echoed
                row.status = "failed" if mismatch or row.secret is None else "active"
            status = row.status
            uow.commit()
        log.info("asana_webhook_registered hook=%s webhook_gid=%s status=%s", row_id, gid, status)
        return status

    def handlers(self) -> dict[str, Handler]:
        return {actions.DELIVERY_WATCH: self.register}
