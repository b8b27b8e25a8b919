"""The nightly money-leak check (issue 9): for each sale whose finance record exists, the CRM
deal now, the agreed billing from the submitted form and what QuickBooks or Xero hold.

`run` is the worker's periodic job: from `money_check.hour` (the finance team's local time) it
claims each due handoff in the database (so several workers never read the same one twice),
reads the CRM and the finance tool through their adapters' sessions (timeouts, 429 and
Retry-After, the shared per-vendor rate limit) on the scheduler's thread, never Bolt's, and
stores what disagrees. A new mismatch DMs the finance team's manager once (an outbox job keyed by
the mismatch) and shows on the team's App Home until a later check finds the record matching
again or someone in finance marks it resolved. A vendor that fails (timeout, 5xx) is logged and
read again the next night; it is never reported as a mismatch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from bot.config import OrgConfig
from bot.render.money_check import mismatch_dm
from bot.services import actions
from bot.services.calendar import team_calendar
from bot.services.home import enqueue_home_refresh
from bot.services.permissions import Permissions
from bot.services.ports import Clock, Messenger
from bot.services.teams import TeamDirectory
from forms import sales_to_delivery
from forms.registry import get_form
from integrations.finance_read import read_billing_setup
from integrations.money_compare import Difference, compare
from integrations.ports import (
    BillingTerms,
    CreatedRecord,
    Crm,
    DealSnapshot,
    FinanceTool,
    VendorError,
)
from storage import money_repo
from storage.models import Handoff, MoneyCheck, MoneyMismatch
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

BATCH = 50  # handoffs per query; the run goes on until none is due
LEASE = timedelta(minutes=10)  # a worker that dies mid-check frees the handoff after this
TOOL_LABELS = {"quickbooks": "QuickBooks", "xero": "Xero"}


class MismatchError(Exception):
    """A Mark resolved that was refused or came too late; the message is for the person."""


class MoneyCheckService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        org: OrgConfig,
        clock: Clock,
        messenger: Messenger,
        crm: Crm | None,
        finance: Mapping[str, FinanceTool],
        teams: TeamDirectory,
        permissions: Permissions,
        kick: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.org = org
        self.clock = clock
        self.messenger = messenger
        self.crm = crm
        self.finance = finance
        self.teams = teams
        self.permissions = permissions
        self.kick = kick
        self.worker_id = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"

    # --- the nightly run ------------------------------------------------------------------------

    def run(self, now: datetime | None = None) -> int:
        """Check every due handoff of each finance team whose night has started; returns how
        many were checked (matching or not; vendor failures are not counted)."""
        settings = self.org.money_check
        if not settings.enabled:
            return 0
        now = now or self.clock()
        checked = 0
        for team, tool in self.finance.items():
            local = now.astimezone(team_calendar(self.org, team).zone)
            if local.hour < settings.hour:
                continue
            today = local.date().isoformat()
            seen: set[int] = set()
            while True:
                with self.uow() as uow:
                    due = money_repo.due(uow.session, team, today, now, BATCH)
                fresh = [handoff_id for handoff_id in due if handoff_id not in seen]
                if not fresh:
                    break
                seen.update(fresh)
                for handoff_id in fresh:
                    if not self._claim(handoff_id, today, now):
                        continue
                    try:
                        checked += self._check(handoff_id, team, tool, today)
                    except Exception:  # one account's trouble must not hold back the others
                        log.exception("money_check_failed handoff=%s", handoff_id)
                        self._finish(handoff_id, today, "error")
        if checked:
            self.kick()
        return checked

    def _claim(self, handoff_id: int, today: str, now: datetime) -> bool:
        with self.uow() as uow:
            won = money_repo.claim(uow.session, handoff_id, today, self.worker_id, now, now + LEASE)
            uow.commit()
        return won

    def _check(self, handoff_id: int, team: str, tool: FinanceTool, today: str) -> int:
        """Read, compare and store one handoff's check; 1 when it was checked."""
        with self.uow() as uow:
            handoff = uow.repo.handoff(handoff_id)
        record = handoff.record(team) if handoff is not None else None
        if handoff is None or record is None or not record.detail:
            self._finish(handoff_id, today, "skipped")
            log.info("money_check_skipped handoff=%s reason=no stored record", handoff_id)
            return 0
        created = CreatedRecord.model_validate(record.detail)
        try:
            billing = agreed_billing(handoff, self.org.billing.remainder)
            deal = self._deal(handoff)
            held = read_billing_setup(tool, created)
            label = TOOL_LABELS.get(tool.vendor, tool.vendor)
            differences = compare(
                billing,
                held,
                deal=deal,
                handed_close_date=_handed_close_date(handoff),
                account_name=handoff.account_name or handoff.deal_name,
                tool=label,
                tolerance=self.org.money_check.tolerance,
            )
        except VendorError as exc:
            # Not a mismatch: the vendor could not say. Read again the next night.
            self._finish(handoff_id, today, "error")
            log.warning(
                "money_check_vendor_failed handoff=%s vendor=%s status=%s retryable=%s",
                handoff_id,
                exc.vendor,
                exc.status,
                exc.retryable,
            )
            return 0
        links = self._links(handoff, created)
        outcome = self._store(handoff, team, differences, links, today)
        log.info(
            "money_checked handoff=%s team=%s outcome=%s differences=%s",
            handoff_id,
            team,
            outcome,
            ",".join(sorted({_kind(d) for d in differences})) or "none",
        )
        return 1

    def _deal(self, handoff: Handoff) -> DealSnapshot | None:
        if self.crm is None or not handoff.deal_id:
            return None
        return self.crm.get_deal(handoff.deal_id)

    def _links(self, handoff: Handoff, record: CreatedRecord) -> dict[str, str]:
        links = {
            "crm": self.crm.deal_url(handoff.deal_id) if self.crm and handoff.deal_id else None,
            "finance": record.url,
            "thread": (
                self.messenger.permalink(handoff.channel_id, handoff.thread_ts)
                if handoff.channel_id and handoff.thread_ts
                else None
            ),
        }
        return {key: value for key, value in links.items() if value}

    def _finish(self, handoff_id: int, today: str, outcome: str) -> None:
        with self.uow() as uow:
            check = uow.session.get(MoneyCheck, handoff_id)
            if check is not None:
                self._mark(check, today, outcome)
                uow.commit()

    def _mark(self, check: MoneyCheck, today: str, outcome: str) -> None:
        check.checked_on, check.outcome = today, outcome
        check.claimed_by = check.claimed_until = None
        check.checked_at = self.clock()

    def _store(
        self,
        handoff: Handoff,
        team: str,
        differences: tuple[Difference, ...],
        links: dict[str, str],
        today: str,
    ) -> str:
        """Record the night's outcome; open, keep or resolve the handoff's mismatch."""
        now = self.clock()
        rows = [d.model_dump() for d in differences]
        with self.uow() as uow:
            session, repo = uow.session, uow.repo
            check = session.get(MoneyCheck, handoff.id)
            if check is not None:
                self._mark(check, today, "mismatch" if rows else "match")
            current = money_repo.open_mismatch(session, handoff.id)
            changed = False
            if not rows:
                outcome = "match"
                if current is not None:
                    self._resolve(repo, handoff, current, "check", now)
                    changed = True
            else:
                print_ = fingerprint(rows)
                outcome = "mismatch"
                if current is not None and current.fingerprint == print_:
                    current.last_seen_at = now  # reported already: nothing to send
                    current.links = links
                else:
                    if current is not None:
                        self._resolve(repo, handoff, current, "changed", now)
                        changed = True
                    if money_repo.resolved_by_person(session, handoff.id, print_):
                        outcome = "accepted"  # finance marked this very mismatch resolved
                    else:
                        self._open(repo, handoff, team, print_, rows, links, now)
                        changed = True
            if changed:
                enqueue_home_refresh(repo, self._finance_people(team), now)
            uow.commit()
        return outcome

    def _open(
        self,
        repo: Any,
        handoff: Handoff,
        team: str,
        print_: str,
        rows: list[dict[str, Any]],
        links: dict[str, str],
        now: datetime,
    ) -> None:
        mismatch = MoneyMismatch(
            handoff_id=handoff.id,
            team=team,
            fingerprint=print_,
            differences=rows,
            links=links,
            found_at=now,
            last_seen_at=now,
        )
        repo.add(mismatch)
        repo.session.flush()
        repo.audit(handoff, "system", "money_mismatch_found", mismatch=mismatch.id, count=len(rows))
        manager = self.org.teams[team].manager or self.org.admin_user
        text, blocks = mismatch_dm(handoff, rows, links)
        # Keyed by the mismatch: a rerun, a retry or a second worker never sends it twice.
        repo.enqueue(
            handoff,
            actions.SLACK_POST,
            f"money-mismatch:{mismatch.id}",
            # Found at night, read in the finance team's working hours.
            {
                "channel": manager,
                "text": text,
                "blocks": blocks,
                actions.WORKING_HOURS: {"team": team},
            },
        )

    @staticmethod
    def _resolve(
        repo: Any, handoff: Handoff, mismatch: MoneyMismatch, by: str, now: datetime
    ) -> None:
        mismatch.resolved_at, mismatch.resolved_by = now, by
        repo.audit(
            handoff,
            by if by not in ("check", "changed") else "system",
            "money_mismatch_resolved",
            mismatch=mismatch.id,
            by=by,
        )

    def _finance_people(self, team: str) -> list[str]:
        """Whose App Home shows the team's mismatches: its members and its manager."""
        manager = self.org.teams[team].manager
        return [*self.teams.members(team), *([manager] if manager else [])]

    # --- a person marks it resolved -------------------------------------------------------------

    def resolve(self, mismatch_id: int, user_id: str) -> None:
        """Mark an open mismatch resolved: members of its finance team, its manager, the admin.

        Raises MismatchError with the reason when the person may not, or it is already closed.
        """
        now = self.clock()
        with self.uow() as uow:
            mismatch = uow.session.get(MoneyMismatch, mismatch_id)
            if mismatch is None:
                raise MismatchError("This mismatch no longer exists.")
            refusal = self.permissions.may_resolve_mismatch(user_id, mismatch.team)
            if refusal is not None:
                raise MismatchError(refusal)
            if mismatch.resolved_at is not None:
                raise MismatchError("This mismatch was already resolved; nothing was changed.")
            handoff = uow.repo.handoff(mismatch.handoff_id)
            if handoff is None:
                raise MismatchError("This handoff no longer exists.")
            self._resolve(uow.repo, handoff, mismatch, user_id, now)
            enqueue_home_refresh(uow.repo, [*self._finance_people(mismatch.team), user_id], now)
            uow.commit()
        log.info(
            "money_mismatch_resolved mismatch=%s handoff=%s by=person",
            mismatch_id,
            mismatch.handoff_id,
        )
        self.kick()


def agreed_billing(handoff: Handoff, remainder: Any) -> BillingTerms:
    """The billing terms of the submitted form (its newest version), as the adapters got them."""
    model = get_form(handoff.kind).load(handoff.form_payload or {}, handoff.schema_version)
    assert isinstance(model, sales_to_delivery.SalesToDeliveryForm)
    return BillingTerms.model_validate({**sales_to_delivery.billing(model), "remainder": remainder})


def fingerprint(rows: list[dict[str, Any]]) -> str:
    """Names one disagreement: the same differences give the same print, a change a new one."""
    text = json.dumps(sorted(rows, key=lambda r: json.dumps(r, sort_keys=True)), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _kind(difference: Difference) -> str:
    """'Amount', 'Schedule', ... or 'Document' for a document gone: for logs, without values."""
    what, colon, _ = difference.what.partition(":")
    return what.split(" ")[0] if colon else "Document"


def _handed_close_date(handoff: Handoff) -> date | None:
    """The CRM's close date when the handoff was made (the snapshot the form opened from)."""
    snapshot = handoff.crm_snapshot or {}
    value = snapshot.get("close_date")
    return date.fromisoformat(str(value)) if value else None
