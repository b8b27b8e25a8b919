"""Renewals started by the calendar: `renewals.notice_days` before an agreed term ends, the
account's ops team gets the renewal handoff, prefilled from the record, once per term.

`open_due` is the worker's periodic job. It only reads and inserts rows: a renewal is one row
per (deal, term) under the handoffs' unique key, so two workers, a rerun after downtime or a
renewal already started by hand never open a second one. `term_for_deal` gives the manual
`/handoff renewal <deal>` the same term and prefill.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from bot.config import OrgConfig
from bot.render.mrkdwn import escape
from bot.render.renewal_request import renewal_request
from bot.services import actions, history
from bot.services.account_record import RecordRows, RenewalTerm, read_record
from bot.services.calendar import team_calendar
from bot.services.handoffs import HomeRefresher
from bot.services.obligations import ObligationBook
from bot.services.permissions import Membership
from bot.services.ports import Clock, Messenger
from forms.renewal_prefill import term_end
from storage import renewals_repo
from storage.models import Handoff, HandoffKind, HandoffStatus
from storage.repositories import Repository
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

RENEWAL = HandoffKind.RENEWAL_TO_SALES
BATCH = 100  # terms opened per run at most; the next run takes the rest


class RenewalService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        org: OrgConfig,
        clock: Clock,
        obligations: ObligationBook,
        messenger: Messenger,
        members: Membership,
        home: HomeRefresher | None = None,
        kick: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.org = org
        self.clock = clock
        self.obligations = obligations
        self.messenger = messenger
        self.members = members
        self.home = home
        self.kick = kick

    @property
    def sender_team(self) -> str:
        return self.org.routes[RENEWAL].sender

    def open_due(self, now: datetime | None = None) -> int:
        """Open the renewal of every term ending within `notice_days` of today (the ops team's
        date), soonest first; returns how many were opened. A term already over gets none."""
        notice = self.org.renewals.notice_days
        if notice == 0:
            return 0
        now = now or self.clock()
        today = team_calendar(self.org, self.sender_team).local_date(now)
        with self.uow() as uow:
            due = renewals_repo.terms_due(uow.session, today, today + timedelta(days=notice), BATCH)
        opened = 0
        for source_id in due:
            try:
                rows = self._rows(source_id)
                if rows is not None and self._open(rows.term(self.messenger.user_name), now):
                    opened += 1
            except Exception:  # one account's trouble must not hold back the others
                log.exception("renewal_open_failed parent=%s", source_id)
        if opened:
            self.kick()
        log.info("renewals_checked today=%s due=%d opened=%d", today, len(due), opened)
        return opened

    def term_for_deal(self, deal_id: str) -> RenewalTerm | None:
        """The term a renewal of this deal started now is for, with its prefill; None when the
        deal never had a handoff here (the renewal then opens with the CRM's facts only)."""
        with self.uow() as uow:
            source = renewals_repo.record_for_deal(uow.session, deal_id)
            rows = self._read(uow.repo, source.id) if source is not None else None
        return rows.term(self.messenger.user_name) if rows is not None else None

    # --- opening one term ---------------------------------------------------------------------

    def _rows(self, source_id: int) -> RecordRows | None:
        with self.uow() as uow:
            return self._read(uow.repo, source_id)

    @staticmethod
    def _read(repo: Repository, source_id: int) -> RecordRows | None:
        source = repo.handoff(source_id)
        return read_record(repo, source) if source is not None else None

    def _open(self, term: RenewalTerm, now: datetime) -> bool:
        """Insert the term's renewal and ask its ops owner for it; False when it exists."""
        assignee = self._assignee(term)  # may ask Slack for a user group: before the write
        with self.uow() as uow:
            repo = uow.repo
            handoff = Handoff(
                kind=RENEWAL,
                status=HandoffStatus.AWAITING_FORM,
                deal_id=term.deal_id,
                receiving_teams=list(self.org.routes[RENEWAL].receivers),
                won_at=now,
                created_at=now,
            )
            term.apply(handoff)
            if not repo.insert_if_absent(handoff):
                return False  # started by hand, or by another worker, already
            notice = self.org.renewals.notice_days
            repo.audit(
                handoff, "calendar", "renewal_opened", parent=term.parent_id, term_end=term.key
            )
            parent = repo.handoff(term.parent_id)
            if parent is not None:
                repo.audit(parent, "calendar", "renewal_opened", renewal=handoff.id)
            repo.enqueue(
                handoff, actions.CRM_SNAPSHOT, f"snapshot:{handoff.id}", {"deal_id": term.deal_id}
            )
            history.enqueue_fetch(repo, handoff)
            ends = term_end({"term_end": term.key})
            if assignee is not None:
                self._assign(repo, handoff, assignee, ends, notice, now)
            else:
                self._nobody_to_ask(repo, handoff)
            uow.commit()
        log.info(
            "renewal_opened handoff=%s parent=%s deal=%s term_end=%s assigned=%s",
            handoff.id,
            term.parent_id,
            term.deal_id,
            term.key,
            assignee is not None,
        )
        return True

    def _assignee(self, term: RenewalTerm) -> str | None:
        """Who in the ops team owes the renewal: the account's delivery lead, else whoever
        confirmed the sales handoff for ops, else the team's manager."""
        team = self.sender_team
        confirmed = [user for key, user in term.confirmed_by if key == team]
        for user in (term.delivery_lead, *confirmed):
            if user and self.members.is_member(team, user):
                return user
        return self.org.teams[team].manager

    def _assign(
        self,
        repo: Repository,
        handoff: Handoff,
        user_id: str,
        ends: date | None,
        notice: int,
        now: datetime,
    ) -> None:
        team = self.sender_team
        handoff.sender_user_id = user_id
        repo.audit(handoff, "system", "sender_assigned", user=user_id)
        self.obligations.open(
            repo,
            handoff,
            sla="form",
            subject=user_id,
            owner_user_id=user_id,
            team=team,
            started_at=now,
        )
        text, blocks = renewal_request(handoff.id, handoff.account_name, ends, notice)
        # Lands in the ops team's working hours, whenever the calendar opened it.
        hours = {"team": team}
        repo.enqueue(
            handoff,
            actions.SLACK_POST,
            f"renewal-request:{handoff.id}",
            {"channel": user_id, "text": text, "blocks": blocks, actions.WORKING_HOURS: hours},
        )
        if self.home is not None:
            self.home.refresh(repo, [user_id], now)

    def _nobody_to_ask(self, repo: Repository, handoff: Handoff) -> None:
        team = escape(self.org.teams[self.sender_team].name)
        repo.enqueue(
            handoff,
            actions.SLACK_POST,
            f"renewal-unassigned:{handoff.id}",
            {
                "channel": self.org.admin_user,
                "text": f"The renewal handoff #{handoff.id} is open, but {team} has no delivery "
                "lead or manager to ask for it. Someone in the team can take it with "
                f"`/handoff renewal {handoff.deal_id}`.",
            },
        )
