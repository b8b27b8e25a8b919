"""`python -m bot backfill`, through `bot.__main__.main` against the local stand-ins.

The command runs in this process with its settings from the environment, as in production: the
database of the test, the Slack and HubSpot stand-ins of a harness (and Asana and QuickBooks for
`--create-records`), and an organisation file written from the harness's own. What it enqueues is
then run by the harness's outbox, as the worker would, so every Slack call and vendor request it
causes is recorded by a stand-in.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select

from bot.__main__ import main
from bot.backfill_command import Progress
from bot.config import parse_org_config
from bot.services.backfill_hubspot import won_deal_ids
from bot.services.stats import health_figures
from bot.worker import periodic_jobs
from integrations.ports import ClosedDealSearch
from storage.models import AuditEvent, Handoff, HandoffKind, HandoffStatus, Obligation, OutboxJob
from tests.bot.conftest import (
    ADMIN,
    OPS_MEMBER,
    SELLER,
    SIGNING_SECRET,
    Harness,
    org_dict,
    won_event,
)
from tests.bot.test_delivery import ENV, NAMES, REALM, TOOLS
from tests.bot.test_renewals import renewals, run_calendar
from tests.integrations.fakes import FakeQuickBooks
from tests.support.fake_asana import FakeAsana
from tests.support.fake_slack import FakeSlack
from tests.support.stub_server import StubServer

HEADER = (
    "deal_id,account_name,amount,currency,close_date,term_start,term_end,schedule,"
    "payment_terms,sales_owner,scope,client_contact,billing_contact,po_number,notes"
)
NORTHWIND = (
    "18230411,Northwind Traders Ltd,36000.00,GBP,2026-10-14,2026-11-01,2027-10-31,monthly,30,"
    "sam@seller.example,Analytics dashboard; Monthly reporting pack,"
    '"Dana Whitfield, Head of Operations, dana@northwind.example",'
    '"Priya Shah, Accounts payable, ap@northwind.example",PO-55871,Signed on the 2025 rate card'
)
CONTOSO = (
    "18230577,Contoso Retail GmbH,48000.00,EUR,2026-09-30,2026-10-01,2027-09-30,one_off,45,"
    'U0SELLER,Store rollout (12 stores),"Jonas Keller, IT Director, jonas@contoso.example",,,'
)


@dataclass
class Cli:
    """`python -m bot ...` in this process, configured through the environment."""

    h: Harness
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    asana: FakeAsana | None = None
    qbo: FakeQuickBooks | None = None

    def csv(self, *rows: str, header: str = HEADER) -> Path:
        path = self.tmp / "accounts.csv"
        path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
        return path

    def run(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(["backfill", *argv])
        out, err = self.capsys.readouterr()
        # The command stamps its jobs with the real clock: the harness's catches up to run them.
        self.h.clock.now = max(self.h.clock.now, datetime.now(UTC))
        return code, out, err

    def handoffs(self) -> list[Handoff]:
        with self.h.services.uow() as uow:
            ids = uow.session.scalars(select(Handoff.id).order_by(Handoff.id)).all()
            found = [uow.repo.handoff(i) for i in ids]
        return [f for f in found if f is not None]

    def count(self, model: Any) -> int:
        with self.h.services.uow() as uow:
            return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


CliFactory = Callable[..., Cli]


@pytest.fixture
def clis(
    make_harness: Callable[..., Harness],
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[CliFactory]:
    with ExitStack() as stack:

        def build(*, tools: bool = False, **org: Any) -> Cli:
            raw = {**org_dict(), **org}
            env: dict[str, str] = {}
            asana, qbo = (FakeAsana(), FakeQuickBooks(REALM)) if tools else (None, None)
            if asana is not None and qbo is not None:
                ops_url = stack.enter_context(StubServer(asana)).url
                finance_url = stack.enter_context(StubServer(qbo.handle)).url
                raw["teams"]["ops"]["tool"] = TOOLS["asana"](ops_url)
                raw["teams"]["finance"]["tool"] = TOOLS["quickbooks"](finance_url)
                env = dict(ENV)
            slack = FakeSlack(
                users_by_email={"sam@seller.example": SELLER},
                usergroups={"S0OPS": [OPS_MEMBER]},
                names=dict(NAMES),
            )
            h = make_harness(org=parse_org_config(raw), env=env, slack=slack)
            h.services.handoffs.kick = lambda: None  # the test drains, as the worker would
            org_file = tmp_path / "org.yml"
            org_file.write_text(yaml.safe_dump(raw))
            monkeypatch.chdir(tmp_path)  # no stray .env
            for name in ("SLACK_APP_TOKEN", "PUBLIC_URL"):
                monkeypatch.delenv(name, raising=False)
            settings = {
                "SLACK_BOT_TOKEN": "xoxb-test",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": h.slack.url,
                "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                "HUBSPOT_TOKEN": "pat-test",
                "HUBSPOT_BASE_URL": h.hubspot.url,
                "ORG_CONFIG": str(org_file),
                "LOG_LEVEL": "WARNING",
                **env,
            }
            for name, value in settings.items():
                monkeypatch.setenv(name, value)
            return Cli(h, tmp_path, monkeypatch, capsys, asana, qbo)

        yield build


@pytest.fixture
def cli(clis: CliFactory) -> Cli:
    return clis()


def slack_calls(h: Harness) -> list[str]:
    """Everything the app said or showed in Slack, as (kind, channel, text) lines."""
    s = h.slack
    return [
        *(f"post {m.channel} {m.text}" for m in s.messages),
        *(f"update {m.channel} {m.text}" for m in s.updates),
        *(f"ephemeral {m.channel} {m.text}" for m in s.ephemerals),
        *(f"home {user}" for user in s.homes),
        *(f"view {view_id}" for view_id, _ in s.view_calls),
        *(f"file {f}" for f in s.files),
    ]


# --- CSV: dry run, apply, re-run ----------------------------------------------------------------


def test_backfill_dry_run_prints_each_deal_and_changes_nothing(cli: Cli) -> None:
    code, out, err = cli.run("--csv", str(cli.csv(NORTHWIND, CONTOSO)))

    assert code == 0
    assert "Dry run (nothing is written; add --apply to do it): 2 deal(s) from accounts.csv" in out
    assert (
        "would bring in  deal 18230411 (line 2): Northwind Traders Ltd, GBP 36,000.00, "
        "closed 2026-10-14"
    ) in out
    assert (
        "would bring in  deal 18230577 (line 3): Contoso Retail GmbH, EUR 48,000.00, "
        "closed 2026-09-30"
    ) in out
    assert "Would bring in 2, skipped 0, failed 0. Nothing was written." in out
    assert err == ""  # two rows on a pipe: no progress bar
    assert cli.handoffs() == []
    assert cli.count(OutboxJob) == 0
    cli.h.drain()
    assert slack_calls(cli.h) == []


def test_backfill_apply_stores_historic_handoffs_and_only_the_admin_hears(cli: Cli) -> None:
    code, out, _ = cli.run("--csv", str(cli.csv(NORTHWIND, CONTOSO)), "--apply")

    assert code == 0, out
    assert "brought in      deal 18230411 (line 2) as handoff #" in out
    assert "Brought in 2, skipped 0, failed 0." in out
    northwind, contoso = cli.handoffs()
    assert (northwind.kind, northwind.status) == (
        HandoffKind.SALES_TO_DELIVERY,
        HandoffStatus.CONFIRMED,
    )
    assert (northwind.backfilled, northwind.backfill_source) == (True, "csv")
    assert northwind.sender_user_id == SELLER  # sam@seller.example, looked up in Slack
    assert contoso.sender_user_id == SELLER
    assert northwind.won_at == datetime(2026, 10, 14, 12, tzinfo=UTC)
    payload = northwind.form_payload or {}
    assert payload["term_end"] == "2027-10-31"
    assert payload["deliverables"] == ["Analytics dashboard", "Monthly reporting pack"]
    assert payload["billing_contact"]["email"] == "ap@northwind.example"
    assert payload["po_number"] == "PO-55871" and payload["po_required"] is True
    assert payload["assumptions"] == "Signed on the 2025 rate card"
    assert payload["why_they_bought"] == "Not recorded (brought in from history)"
    assert all(r.confirmed_at is not None for r in northwind.receipts)
    assert cli.count(Obligation) == 0  # nothing to remind or escalate

    cli.h.drain()

    [summary] = cli.h.slack.messages
    assert summary.channel == f"D-{ADMIN}"
    assert "*Backfill from accounts.csv*: 2 historic account(s) brought in" in summary.text
    assert slack_calls(cli.h) == [f"post D-{ADMIN} {summary.text}"]
    assert cli.h.hubspot.stage_changes == [] and cli.h.hubspot.notes == {}

    # Days later: reminders, escalations and digests have nothing to say about them.
    for day in range(1, 4):
        cli.h.clock.now = datetime(2026, 11, 23 + day, 9, 30, tzinfo=UTC)
        for job in periodic_jobs(cli.h.services):
            if job.id in ("reminders_sweep", "digests_send"):
                job.run(cli.h.services)  # type: ignore[call-overload]
        cli.h.drain()
    # The deal moving through the won stage again is left alone by the gate.
    cli.h.hubspot.add_deal("18230411")
    cli.h.hubspot_webhook([won_event("18230411", 77)])
    cli.h.drain()
    assert slack_calls(cli.h) == [f"post D-{ADMIN} {summary.text}"]
    assert cli.h.hubspot.stage_changes == []


def test_backfill_rerun_skips_the_deals_already_present(cli: Cli) -> None:
    path = cli.csv(NORTHWIND, CONTOSO)
    assert cli.run("--csv", str(path), "--apply")[0] == 0
    first = [h.id for h in cli.handoffs()]

    code, out, _ = cli.run("--csv", str(path), "--apply")

    assert code == 0
    assert f"skip            deal 18230411 (line 2): already present (handoff #{first[0]})" in out
    assert f"skip            deal 18230577 (line 3): already present (handoff #{first[1]})" in out
    assert "Brought in 0, skipped 2, failed 0." in out
    assert [h.id for h in cli.handoffs()] == first
    cli.h.drain()
    second = cli.h.slack.messages[-1]
    assert "0 historic account(s) brought in, 2 skipped (2 already present)" in second.text
    # A dry run says the same, and a deal any handoff holds (here one the gate opened) too.
    cli.h.hubspot.add_deal("555")
    cli.h.hubspot_webhook([won_event("555", 1)])
    live = (
        "555,Fabrikam Inc,1000,USD,2026-11-20,,2027-11-19,,,,Support,"
        '"Ann Lee, CTO, ann@fabrikam.example",,,'
    )
    code, out, _ = cli.run("--csv", str(cli.csv(NORTHWIND, live)))
    assert code == 0
    assert "skip            deal 18230411 (line 2): already present" in out
    assert "skip            deal 555 (line 3): already present" in out


def test_backfill_bad_rows_name_line_and_column_and_the_rest_land(cli: Cli) -> None:
    ends_before_start = NORTHWIND.replace("2027-10-31", "2026-10-31").replace(
        "18230411", "18230412"
    )
    bad_email = CONTOSO.replace("jonas@contoso.example", "jonas-at-contoso").replace(
        "18230577", "18230578"
    )
    stranger = CONTOSO.replace("U0SELLER", "nobody@seller.example").replace("18230577", "18230579")
    multi_line = (
        '18230580,Litware Inc,9000,USD,2026-10-02,,2027-10-01,,,,"Onboarding\nTraining",'
        '"Li Wu, COO, li@litware.example",,,'
    )
    bad_terms = multi_line.replace("18230580", "18230581").replace(',,,,"Onb', ',,17,,"Onb')
    path = cli.csv(NORTHWIND, ends_before_start, bad_email, multi_line, stranger, bad_terms)

    code, out, _ = cli.run("--csv", str(path), "--apply")

    assert code == 1
    assert "line 3, column term_end: Must be after the term start (1 Nov 2026)" in out
    assert "line 4, column client_contact: " in out
    assert "line 7, column sales_owner: no Slack user has the email “nobody@seller.example”" in out
    # The quoted cell spans lines 5-6: the next row is line 7, and this one 8.
    assert "line 8, column payment_terms: " in out
    assert "Brought in 2, skipped 0, failed 4." in out
    assert sorted(h.deal_id or "" for h in cli.handoffs()) == ["18230411", "18230580"]
    [litware] = [h for h in cli.handoffs() if h.deal_id == "18230580"]
    assert (litware.form_payload or {})["deliverables"] == ["Onboarding", "Training"]
    cli.h.drain()
    [summary] = cli.h.slack.messages
    assert "2 historic account(s) brought in, 4 failed" in summary.text


def test_backfill_refuses_a_file_with_unknown_or_missing_columns(cli: Cli) -> None:
    path = cli.csv("1,Acme", header="deal_id,account_nam")

    code, _, err = cli.run("--csv", str(path))

    assert code == 2
    assert "missing column(s): account_name, amount" in err
    assert "unknown column(s): account_nam" in err
    assert cli.handoffs() == []


# --- HubSpot ------------------------------------------------------------------------------------


def hubspot_deal(h: Harness, deal_id: str, closed: str, **fields: Any) -> None:
    props = {"closedate": f"{closed}T10:00:00.000Z", "contract_end": "2027-06-30"}
    props.update(fields.pop("extra_properties", {}))
    h.hubspot.add_deal(
        deal_id,
        company=fields.pop("company", f"Company {deal_id}"),
        contacts=(
            {
                "firstname": "Dana",
                "lastname": "Ops",
                "email": "dana@acme.example",
                "jobtitle": "Operations Director",
            },
        ),
        line_items=(
            {"name": "Analytics licence", "quantity": "12", "price": "1000", "amount": "12000"},
        ),
        extra_properties=props,
        **fields,
    )


def test_backfill_from_hubspot_brings_in_won_deals_closed_since_the_date(
    clis: CliFactory,
) -> None:
    cli = clis(hubspot={**org_dict()["hubspot"], "term_end_property": "contract_end"})
    h = cli.h
    hubspot_deal(h, "7001", "2026-07-01", amount="12000", currency="GBP")
    hubspot_deal(h, "7002", "2026-08-15", amount="12000", currency="EUR")
    hubspot_deal(h, "7003", "2026-05-31")  # closed before --since: not asked for
    hubspot_deal(h, "7004", "2026-07-10", stage="appointmentscheduled")  # not won: not found
    hubspot_deal(h, "7005", "2026-09-01", amount="12000")
    hubspot_deal(h, "7006", "2026-09-02", amount="12000", extra_properties={"contract_end": ""})
    h.hubspot.freeze_index()  # the search index still shows 7005 as won...
    h.hubspot.set_stage("7005", "closedlost")  # ...after it was lost

    code, out, _ = cli.run("--from-hubspot", "--since", "2026-06-01")

    assert code == 1
    assert "Dry run (nothing is written; add --apply to do it): 4 deal(s) from HubSpot" in out
    assert "would bring in  deal 7001: Company 7001, GBP 12,000.00, closed 2026-07-01" in out
    assert "would bring in  deal 7002: Company 7002, EUR 12,000.00, closed 2026-08-15" in out
    assert "skip            deal 7005: not closed-won (stage closedlost)" in out
    assert "deal 7006, Term end: HubSpot holds no term end for this deal" in out
    assert "7003" not in out and "7004" not in out
    assert h.hubspot.server is not None
    [search, *_] = [r for r in h.hubspot.server.requests if r.path.endswith("/deals/search")]
    filters = search.json["filterGroups"][0]["filters"]
    assert {"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"} in filters
    assert {"propertyName": "closedate", "operator": "GTE", "value": "1780272000000"} in filters

    code, out, _ = cli.run(
        "--from-hubspot", "--since", "2026-06-01", "--apply", "--term-months", "12"
    )

    assert code == 0, out
    brought = {h.deal_id: h for h in cli.handoffs()}
    assert sorted(brought) == ["7001", "7002", "7006"]
    assert brought["7001"].backfill_source == "hubspot"
    assert brought["7001"].sender_user_id == SELLER  # the deal owner, by email in Slack
    agreed = brought["7001"].form_payload or {}
    assert (agreed["term_start"], agreed["term_end"]) == ("2026-07-01", "2027-06-30")
    assert agreed["buyer"]["email"] == "dana@acme.example"
    assert agreed["deliverables"] == ["Analytics licence x 12"]
    assert (brought["7006"].form_payload or {})["term_end"] == "2027-09-01"  # --term-months 12


# --- vendor records -----------------------------------------------------------------------------


def test_backfill_create_records_makes_each_vendor_record_once_even_when_run_twice(
    clis: CliFactory,
) -> None:
    cli = clis(tools=True)
    asana, qbo = cli.asana, cli.qbo
    assert asana is not None and qbo is not None
    assert cli.run("--csv", str(cli.csv(CONTOSO)), "--apply")[0] == 0  # first without records
    cli.h.drain()
    assert asana.created_projects == 0 and qbo.invoices == {}

    path = cli.csv(NORTHWIND, CONTOSO)
    code, out, _ = cli.run("--csv", str(path), "--create-records")  # a dry run first
    assert code == 0
    assert "would bring in  deal 18230411 (line 2): " in out
    assert "closed 2026-10-14 (2 vendor record(s) to create)" in out
    assert "already present (handoff #1) (2 vendor record(s) to create)" in out
    assert cli.count(OutboxJob) == 1  # the first run's summary, nothing more
    code, out, _ = cli.run("--csv", str(path), "--apply", "--create-records")
    assert code == 0, out
    assert "deal 18230411 (line 2) as handoff #2: " in out
    assert "(2 vendor record(s) queued)" in out
    assert "deal 18230577 (line 3): already present (handoff #1) (2 vendor record(s) queued)" in out
    cli.h.drain()
    code, out, _ = cli.run("--csv", str(path), "--apply", "--create-records")
    assert code == 0, out
    assert "queued" not in out
    cli.h.drain()

    for handoff in cli.handoffs():
        assert {r.target: r.status for r in handoff.external_records} == {
            "ops": "done",
            "finance": "done",
        }
    assert asana.created_projects == 2
    # Northwind bills monthly (a recurring template), Contoso once (an invoice).
    assert (len(qbo.recurring), len(qbo.invoices)) == (1, 1)
    assert cli.h.hubspot.notes == {}  # a historic deal gets no "handoff submitted" note
    assert all(m.channel == f"D-{ADMIN}" for m in cli.h.slack.messages)
    summaries = [m.text for m in cli.h.slack.messages]
    assert len(summaries) == 3
    assert "4 vendor record(s) queued" in summaries[1]
    assert "vendor record" not in summaries[2]


# --- the record afterwards: renewals, App Home, figures -----------------------------------------


def test_backfilled_account_renewal_opens_notice_days_before_its_term_end(cli: Cli) -> None:
    row = NORTHWIND.replace("2027-10-31", "2027-04-30")
    assert cli.run("--csv", str(cli.csv(row)), "--apply")[0] == 0
    [sales] = cli.handoffs()

    assert run_calendar(cli.h, datetime(2027, 2, 28, 10, tzinfo=UTC)) == 0  # 61 days before
    assert run_calendar(cli.h, datetime(2027, 3, 1, 10, tzinfo=UTC)) == 1  # 60 days before

    [renewal] = renewals(cli.h)
    assert (renewal.parent_id, renewal.deal_id, renewal.term_key) == (
        sales.id,
        "18230411",
        "2027-04-30",
    )
    assert renewal.prefill is not None
    assert renewal.prefill["current_value"] == "36000.00"
    assert "• Analytics dashboard" in renewal.prefill["agreed_scope"]


def test_backfilled_accounts_show_in_the_app_home_and_the_figures(cli: Cli) -> None:
    assert cli.run("--csv", str(cli.csv(NORTHWIND, CONTOSO)), "--apply")[0] == 0

    home = json.dumps(cli.h.services.home.render(OPS_MEMBER))
    assert "In delivery" in home
    assert "Northwind Traders Ltd" in home and "Contoso Retail GmbH" in home

    figures = health_figures(cli.h.services.uow, cli.h.services.org, 12, cli.h.clock())
    ops = {f.month: f for f in figures if f.team == "ops"}
    assert (ops["2026-10"].opened, ops["2026-09"].opened) == (1, 1)
    # Nobody was timed submitting or confirming a historic account.
    assert ops["2026-10"].median_hours_to_confirm is None
    assert ops["2026-10"].confirmed_within_sla is None
    with cli.h.services.uow() as uow:
        events = uow.session.scalars(select(AuditEvent.event)).all()
    assert sorted(events) == ["backfilled", "backfilled"]


def test_progress_bar_redraws_on_a_terminal_and_stays_quiet_on_a_short_pipe() -> None:
    screen = io.StringIO()
    bar = Progress(2, screen, isatty=lambda: True)
    bar.step()
    bar.clear()
    bar.step()
    bar.done()
    assert screen.getvalue() == (
        f"\rbackfill [{'#' * 15}{'-' * 15}] 1/2\r\033[K\rbackfill [{'#' * 30}] 2/2\r\033[K"
    )
    pipe = io.StringIO()
    quiet = Progress(2, pipe, isatty=lambda: False)
    quiet.step()
    quiet.step()
    assert pipe.getvalue() == ""
    long_run = Progress(200, pipe, isatty=lambda: False)
    for _ in range(200):
        long_run.step()
    assert pipe.getvalue().splitlines()[:2] == ["backfill: 20/200", "backfill: 40/200"]


def test_hubspot_search_pages_and_restarts_before_the_result_cap(harness: Harness) -> None:
    # 450 won deals, one closed a day: three pages of 200, and HubSpot refusing (400) to page
    # past 400 results, so the search starts again from the last close date it saw.
    harness.hubspot.search_max_total = 400
    for n in range(450):
        day = date(2025, 1, 1) + timedelta(days=n)
        harness.hubspot.add_deal(
            str(8000 + n), extra_properties={"closedate": f"{day.isoformat()}T09:00:00.000Z"}
        )
    crm = harness.services.crm
    assert isinstance(crm, ClosedDealSearch)

    ids = won_deal_ids(
        crm, "default", "closedwon", date(2025, 1, 2), sleep=lambda _s: None, result_cap=400
    )

    assert ids == [str(8000 + n) for n in range(1, 450)]
