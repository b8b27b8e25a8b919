"""`python -m bot backfill`: bring historic accounts in, from HubSpot or a CSV file.

A dry run (the default) prints what it would bring in and what it would skip, and writes
nothing; `--apply` stores them. Per-row problems name the CSV line and column (or the HubSpot
deal) and the run goes on; the exit code is 1 when any row failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol, TextIO

from bot.config import ConfigError
from bot.services.backfill import BackfillService, Outcome, Report
from bot.services.backfill_csv import CsvFileError, read_csv
from bot.services.backfill_hubspot import HubSpotDeals, won_deal_ids
from bot.services.backfill_rows import Candidate
from bot.wiring import Services
from integrations.ports import ClosedDealSearch, VendorError

log = logging.getLogger(__name__)

LONG_RUN = 100  # rows from which a run shows its progress even when stderr is not a terminal


class Candidates(Iterable[Candidate], Sized, Protocol):
    """What a source hands the run: its rows, counted ahead for the progress bar."""


@dataclass(frozen=True)
class BackfillArgs:
    csv: Path | None
    from_hubspot: bool
    since: date | None
    apply: bool
    create_records: bool
    term_months: int | None


def run_backfill(services: Services, args: BackfillArgs, out: TextIO, err: TextIO) -> int:
    """Run the backfill; 0 when every row was brought in or skipped, 1 when any failed."""
    candidates, source = _source(services, args)
    service = BackfillService(
        services.uow, services.org, services.clock, services.messenger.user_id_by_email
    )
    progress = Progress(len(candidates), err)
    verb = "Bringing in" if args.apply else "Dry run (nothing is written; add --apply to do it):"
    print(f"{verb} {len(candidates)} deal(s) from {source}", file=out)

    def show(outcome: Outcome) -> None:
        progress.clear()
        for line in describe(outcome):
            print(line, file=out)
        out.flush()
        progress.step()

    report = service.run(
        candidates, apply=args.apply, create_records=args.create_records, on_outcome=show
    )
    progress.done()
    print(totals(report, args.apply), file=out)
    if args.apply:
        service.tell_admin(report, source)
        services.kick()
    log.info(
        "backfill_finished source=%s apply=%s brought=%s skipped=%s failed=%s",
        source,
        args.apply,
        report.count("brought"),
        report.count("skip"),
        report.failed,
    )
    return 1 if report.failed else 0


def _source(services: Services, args: BackfillArgs) -> tuple[Candidates, str]:
    if args.csv is not None:
        try:
            return read_csv(args.csv), args.csv.name
        except (OSError, CsvFileError) as exc:
            raise ConfigError(f"backfill --csv: {exc}") from exc
    crm = services.crm
    if crm is None or not isinstance(crm, ClosedDealSearch):
        raise ConfigError("backfill --from-hubspot needs HUBSPOT_TOKEN")
    assert args.since is not None
    hubspot = services.org.hubspot
    try:
        ids = won_deal_ids(crm, hubspot.pipeline_id, hubspot.won_stage, args.since)
    except VendorError as exc:
        raise ConfigError(f"backfill --from-hubspot: the search failed: {exc}") from exc
    deals = HubSpotDeals(crm, ids, term_months=args.term_months)
    return deals, f"HubSpot (won since {args.since.isoformat()})"


def describe(outcome: Outcome) -> list[str]:
    """The outcome's lines in the command's output."""
    where = outcome.deal_id and f"deal {outcome.deal_id}"
    if outcome.where != where:
        where = f"{where} ({outcome.where})" if where else outcome.where
    if outcome.action == "bring":
        return [f"  would bring in  {where}: {outcome.summary}{_records(outcome)}"]
    if outcome.action == "brought":
        return [
            f"  brought in      {where} as handoff #{outcome.handoff_id}: "
            f"{outcome.summary}{_records(outcome)}"
        ]
    if outcome.action == "skip":
        return [f"  skip            {where}: {outcome.reason}{_records(outcome)}"]
    return [f"  error           {problem}" for problem in outcome.problems]


def _records(outcome: Outcome) -> str:
    if not outcome.records:
        return ""
    verb = "to create" if outcome.dry_run else "queued"
    return f" ({outcome.records} vendor record(s) {verb})"


def totals(report: Report, applied: bool) -> str:
    """The last line: how many were (or would be) brought in, skipped and failed."""
    brought = report.count("brought" if applied else "bring")
    head = "Brought in" if applied else "Would bring in"
    return f"{head} {brought}, skipped {report.count('skip')}, failed {report.failed}." + (
        "" if applied else " Nothing was written."
    )


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal; elsewhere, for a long run
    only, a line every tenth."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO, isatty: Callable[[], bool] | None = None):
        self.total = total
        self.stream = stream
        self.tty = (isatty or stream.isatty)()
        self.shown = self.tty or total >= LONG_RUN
        self.count = 0
        self.drawn = False

    def step(self) -> None:
        self.count += 1
        if not self.shown:
            return
        if self.tty:
            filled = self.WIDTH * self.count // max(self.total, 1)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.stream.write(f"\rbackfill [{bar}] {self.count}/{self.total}")
            self.drawn = True
        elif self.count * 10 // self.total != (self.count - 1) * 10 // self.total:
            self.stream.write(f"backfill: {self.count}/{self.total}\n")
        self.stream.flush()

    def clear(self) -> None:
        """Wipe the bar before a line of output (on a terminal)."""
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False

    def done(self) -> None:
        self.clear()
