"""Backfill of historic accounts: deals won before the app, brought into the same record.

Each candidate (a CSV row or a HubSpot deal) is checked by the sales form's own model and, with
`apply`, stored as a sales -> delivery handoff marked `backfilled`: submitted and confirmed as of
its close date, with no obligations (so no reminder, escalation or digest ever names it), no
handoff message, no DM and no CRM stage change. The gate leaves its deal alone (a handoff past
the form exists), renewals open for it like for any other, and it shows in the App Home and the
figures (never in the timings: nobody was timed). Vendor records are created only when asked,
by the usual outbox jobs under their usual keys, so they are made once however often it runs.
One run is idempotent: a deal any handoff already holds is skipped and reported.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Literal

from sqlalchemy import select

from bot.config import OrgConfig
from bot.ids import is_user_id
from bot.render.mrkdwn import escape
from bot.services import actions
from bot.services.backfill_rows import Candidate, Problem
from bot.services.delivery_invoice import needs_record
from bot.services.ports import Clock
from forms.historic import check, historic_values
from forms.ids import SalesToDeliveryField as F
from forms.money import format_money
from forms.sales_to_delivery_model import SCHEMA_VERSION, SalesToDeliveryForm
from storage.models import ExternalRecord, Handoff, HandoffKind, HandoffStatus, Receipt
from storage.repositories import Repository
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

SALES = HandoffKind.SALES_TO_DELIVERY
ACTOR = "backfill"
# Stored at midday UTC, so the close date reads the same in every team's time zone.
CLOSE_TIME = time(12, 0)
Action = Literal["bring", "brought", "skip", "fail"]
EmailLookup = Callable[[str], str | None]


@dataclass(frozen=True)
class Outcome:
    """What happened to one candidate (or would, in a dry run)."""

    action: Action
    where: str
    deal_id: str
    summary: str  # "Acme Ltd, GBP 36,000.00, closed 2026-03-31"
    reason: str = ""  # why it was skipped
    problems: tuple[Problem, ...] = ()
    handoff_id: int | None = None
    records: int = 0  # vendor record jobs queued (in a dry run: that would be)
    dry_run: bool = False


@dataclass
class Report:
    """Counts of one run, for the summary."""

    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, *actions: Action) -> int:
        return sum(1 for o in self.outcomes if o.action in actions)

    @property
    def failed(self) -> int:
        return self.count("fail")

    def skipped_because(self) -> dict[str, int]:
        reasons: dict[str, int] = {}
        for outcome in self.outcomes:
            if outcome.action == "skip":
                key = outcome.reason.split(" (")[0]
                reasons[key] = reasons.get(key, 0) + 1
        return reasons


@dataclass(frozen=True)
class _Checked:
    candidate: Candidate
    form: SalesToDeliveryForm
    sender: str | None


class BackfillService:
    """Checks candidates and, when applying, stores them as historic handoffs."""

    def __init__(
        self, uow: UnitOfWorkFactory, org: OrgConfig, clock: Clock, user_by_email: EmailLookup
    ) -> None:
        self.uow = uow
        self.org = org
        self.clock = clock
        self.user_by_email = user_by_email

    def run(
        self,
        candidates: Iterable[Candidate],
        *,
        apply: bool,
        create_records: bool = False,
        on_outcome: Callable[[Outcome], None] = lambda _o: None,
    ) -> Report:
        """Check (and with `apply`, bring in) each candidate; one bad row never stops the run."""
        report = Report()
        for candidate in candidates:
            try:
                outcome = self.consider(candidate, apply=apply, create_records=create_records)
            except Exception as exc:  # one deal's trouble must not hold back the others
                log.exception(
                    "backfill_row_failed where=%s deal=%s", candidate.where, candidate.deal_id
                )
                problem = Problem(candidate.where, None, f"not brought in: {type(exc).__name__}")
                outcome = Outcome(
                    "fail", candidate.where, candidate.deal_id, "", problems=(problem,)
                )
            report.outcomes.append(outcome)
            on_outcome(outcome)
        return report

    def consider(self, candidate: Candidate, *, apply: bool, create_records: bool) -> Outcome:
        """One candidate: skipped, failed, or brought in (or, in a dry run, would be)."""
        where, deal_id = candidate.where, candidate.deal_id
        if candidate.problems and not candidate.given:
            return Outcome("fail", where, deal_id, "", problems=candidate.problems)
        present = self._present(deal_id) if deal_id else None
        if present is not None:
            queued = self._records_for(present, apply) if create_records else 0
            return Outcome(
                "skip",
                where,
                deal_id,
                self._label(candidate),
                f"already present (handoff #{present})",
                handoff_id=present,
                records=queued,
                dry_run=not apply,
            )
        won = self.org.hubspot.won_stage
        if candidate.stage is not None and candidate.stage != won:
            return Outcome(
                "skip",
                where,
                deal_id,
                self._label(candidate),
                f"not closed-won (stage {candidate.stage})",
            )
        checked = self._check(candidate)
        if isinstance(checked, tuple):
            return Outcome("fail", where, deal_id, self._label(candidate), problems=checked)
        summary = _summary(checked.form, candidate)
        if not apply:
            records = len(self._tools()) if create_records else 0
            return Outcome("bring", where, deal_id, summary, records=records, dry_run=True)
        handoff_id, records = self._store(checked, create_records)
        if handoff_id is None:  # another run stored it meanwhile
            return Outcome("skip", where, deal_id, summary, "already present")
        log.info(
            "backfilled handoff=%s deal=%s source=%s records=%s",
            handoff_id,
            deal_id,
            candidate.source,
            records,
        )
        return Outcome("brought", where, deal_id, summary, handoff_id=handoff_id, records=records)

    # --- checking -------------------------------------------------------------------------------

    def _check(self, candidate: Candidate) -> _Checked | tuple[Problem, ...]:
        problems = list(candidate.problems)
        people: dict[str, str | None] = {}
        for name, who in candidate.people.items():
            user = who if is_user_id(who) else self._lookup(who)
            if user is None and candidate.source == "csv":
                problems.append(
                    candidate.problem(name, f"no Slack user has the email “{who[:100]}”")
                )
            people[name] = user
        if candidate.ops_team is not None:
            receivers = self.org.routes[SALES].receivers
            if candidate.ops_team not in receivers:
                problems.append(
                    candidate.problem(
                        "ops_team",
                        f"“{candidate.ops_team[:40]}” is not a team receiving sales handoffs "
                        f"in the organisation file ({', '.join(receivers)})",
                    )
                )
        given = dict(candidate.given)
        sender = people.get("sales_owner")
        if sender:
            given.setdefault(F.ACCOUNT_MANAGER, sender)
        if people.get("delivery_lead"):
            given[F.DELIVERY_LEAD] = str(people["delivery_lead"])
        result = check(historic_values(given))
        if isinstance(result, dict):
            problems.extend(candidate.problem(name, message) for name, message in result.items())
        if problems or isinstance(result, dict):
            return _one_per_column(problems)
        return _Checked(candidate, result, sender)

    def _lookup(self, email: str) -> str | None:
        if "@" not in email:
            return None
        return self.user_by_email(email.strip())

    def _present(self, deal_id: str) -> int | None:
        """A handoff (of any kind) that already holds this deal."""
        with self.uow() as uow:
            return uow.session.scalar(
                select(Handoff.id).where(Handoff.deal_id == deal_id).order_by(Handoff.id).limit(1)
            )

    def _label(self, candidate: Candidate) -> str:
        name = candidate.given.get(F.ACCOUNT_NAME) or candidate.deal_name
        return name or "(no name)"

    # --- storing --------------------------------------------------------------------------------

    def _store(self, checked: _Checked, create_records: bool) -> tuple[int | None, int]:
        candidate, form = checked.candidate, checked.form
        close = candidate.close_date or form.term_start
        at = datetime.combine(close, CLOSE_TIME, tzinfo=UTC)
        teams = list(self.org.routes[SALES].receivers)
        handoff = Handoff(
            kind=SALES,
            status=HandoffStatus.CONFIRMED,
            deal_id=candidate.deal_id,
            account_name=form.account_name[:255],
            deal_name=(candidate.deal_name or form.account_name)[:255],
            sender_user_id=checked.sender,
            receiving_teams=teams,
            form_payload=form.model_dump(mode="json"),
            schema_version=SCHEMA_VERSION,
            backfilled=True,
            backfill_source=candidate.source,
            won_at=at,
            submitted_at=at,
            completed_at=at,
            created_at=self.clock(),
        )
        # Confirmed as of the close (by nobody in particular): not waiting on any team.
        handoff.receipts = [Receipt(team=team, confirmed_at=at) for team in teams]
        with self.uow() as uow:
            repo = uow.repo
            if not repo.insert_if_absent(handoff):
                return None, 0
            repo.audit(
                handoff,
                ACTOR,
                "backfilled",
                source=candidate.source,
                where=candidate.where,
                ops_team=candidate.ops_team,
            )
            records = self._queue_records(repo, handoff) if create_records else 0
            uow.commit()
            return handoff.id, records

    def _records_for(self, handoff_id: int, apply: bool) -> int:
        """Vendor records for a historic handoff stored by an earlier run without them."""
        with self.uow() as uow:
            handoff = uow.repo.handoff(handoff_id, for_update=apply)
            if handoff is None or not handoff.backfilled:
                return 0  # a live handoff makes its records the usual way
            if not apply:
                return len(self._missing_records(handoff))
            queued = self._queue_records(uow.repo, handoff)
            uow.commit()
            return queued

    def _tools(self, teams: Iterable[str] | None = None) -> dict[str, str]:
        """The receiving teams (of sales handoffs, unless given) with a tool: team -> vendor."""
        found = {}
        for team in self.org.routes[SALES].receivers if teams is None else teams:
            tool = self.org.teams[team].tool if team in self.org.teams else None
            if tool is not None:
                found[team] = tool.vendor
        return found

    def _missing_records(self, handoff: Handoff) -> list[tuple[str, str]]:
        return [
            (team, vendor)
            for team, vendor in self._tools(handoff.receiving_teams).items()
            if handoff.record(team) is None and needs_record(handoff, vendor)
        ]

    def _queue_records(self, repo: Repository, handoff: Handoff) -> int:
        """Each team's record by the usual job and key (`record:<id>:<team>`): made once."""
        queued = 0
        for team, vendor in self._missing_records(handoff):
            handoff.external_records.append(ExternalRecord(target=team, vendor=vendor))
            job = repo.enqueue(
                handoff, actions.CREATE_RECORD, actions.record_key(handoff.id, team), {"team": team}
            )
            queued += job is not None
        if queued:
            repo.audit(handoff, ACTOR, "backfill_records_queued", teams=queued)
        return queued

    # --- the admin's summary --------------------------------------------------------------------

    def tell_admin(self, report: Report, source: str) -> None:
        """One DM to the admin with what the run did (through the outbox, like every post)."""
        text = summary_text(report, source)
        with self.uow() as uow:
            uow.repo.enqueue(
                None,
                actions.SLACK_POST,
                f"backfill-summary:{uuid.uuid4()}",
                {"channel": self.org.admin_user, "text": text},
            )
            uow.commit()


def summary_text(report: Report, source: str) -> str:
    """'Backfill from backfill.csv: 12 historic accounts brought in, 2 skipped (...), 1 failed.'"""
    brought = report.count("brought")
    parts = [f"*Backfill from {escape(source)}*: {brought} historic account(s) brought in"]
    skipped = report.skipped_because()
    if skipped:
        why = ", ".join(f"{n} {escape(reason)}" for reason, n in skipped.items())
        parts.append(f"{report.count('skip')} skipped ({why})")
    if report.failed:
        parts.append(f"{report.failed} failed (see the command's output)")
    records = sum(o.records for o in report.outcomes)
    if records:
        parts.append(f"{records} vendor record(s) queued")
    return ", ".join(parts) + ". Nobody else was messaged."


def _one_per_column(problems: list[Problem]) -> tuple[Problem, ...]:
    """The first problem of each column (a CSV cell feeding several answers says it once)."""
    seen: set[str | None] = set()
    kept = []
    for problem in problems:
        if problem.column is None or problem.column not in seen:
            kept.append(problem)
            seen.add(problem.column)
    return tuple(kept)


def _summary(form: SalesToDeliveryForm, candidate: Candidate) -> str:
    close = candidate.close_date.isoformat() if candidate.close_date else "no close date"
    money = format_money(form.contract_value, form.currency)
    return f"{form.account_name}, {money}, closed {close}"
