"""Health figures on a hand-computed month of handoffs: medians, SLA share, questions, failures."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.config import OrgConfig
from bot.render.stats import stats_blocks
from bot.services.stats import CSV_HEADER, TeamMonth, health_figures, stats_csv
from storage.models import ExternalRecord, Handoff, OutboxJob, Receipt, ThreadMessage
from storage.uow import UnitOfWorkFactory
from tests.scheduling.conftest import LONDON, NY, add_handoff, local
from tests.support.fake_slack import block_kit_problems

NOW = local(LONDON, 2026, 2, 10, 15)  # Tuesday 10 February, 10:00 in New York


def _handoff(
    uow: UnitOfWorkFactory,
    name: str,
    won: datetime,
    submitted: datetime | None = None,
    confirmed: dict[str, datetime] | None = None,
    questions: int = 0,
) -> int:
    hid = add_handoff(
        uow,
        deal_id=name,
        won_at=won,
        submitted_at=submitted,
        status="submitted" if submitted else "awaiting_form",
    )
    with uow() as u:
        handoff = u.session.get(Handoff, hid)
        assert handoff is not None
        for team in ("ops", "finance") if submitted else ():
            at = (confirmed or {}).get(team)
            handoff.receipts.append(
                Receipt(team=team, confirmed_at=at, confirmed_by="U1" if at else None)
            )
        for i in range(questions):
            handoff.messages.append(
                ThreadMessage(slack_ts=f"{i}.1", user_id="UOPS1", text="?", is_question=True)
            )
        handoff.messages.append(ThreadMessage(slack_ts="99.9", user_id="USALES1", text="fyi"))
        u.commit()
    return hid


@pytest.fixture
def dataset(uow: UnitOfWorkFactory) -> dict[str, int]:
    """January 2026 (no DST: New York is UTC-5, London UTC+0), plus one in Dec and one in Feb."""
    ids = {
        # won->submitted 2 h. ops 1 h (deadline Tue 13:00 London: within); finance 6 h (missed).
        "h1": _handoff(
            uow,
            "h1",
            local(NY, 2026, 1, 5, 10),
            local(NY, 2026, 1, 5, 12),
            {"ops": local(LONDON, 2026, 1, 6, 10), "finance": local(LONDON, 2026, 1, 6, 15)},
            questions=2,
        ),
        # 6 h. ops 0.5 h, finance 3 h: both within (deadline Wed 13:00 London).
        "h2": _handoff(
            uow,
            "h2",
            local(NY, 2026, 1, 6, 9),
            local(NY, 2026, 1, 6, 15),
            {"ops": local(LONDON, 2026, 1, 7, 9, 30), "finance": local(LONDON, 2026, 1, 7, 12)},
            questions=1,
        ),
        # 8 h. Submitted 14:00 London: ops 2 h (within); finance 5 h, past Fri 10:00 (missed).
        "h3": _handoff(
            uow,
            "h3",
            local(NY, 2026, 1, 7, 9),
            local(NY, 2026, 1, 8, 9),
            {"ops": local(LONDON, 2026, 1, 8, 16), "finance": local(LONDON, 2026, 1, 9, 11)},
        ),
        "h4": _handoff(uow, "h4", local(NY, 2026, 1, 8, 10)),  # not submitted
        "dec": _handoff(uow, "dec", local(NY, 2025, 12, 15, 10)),
        "oct": _handoff(uow, "oct", local(NY, 2025, 10, 15, 10)),  # outside three months
        # 7 h + 0.5 h; not confirmed, deadline Wednesday: undecided, left out of the share.
        "feb": _handoff(uow, "feb", local(NY, 2026, 2, 9, 10), local(NY, 2026, 2, 10, 9, 30)),
    }
    with uow() as u:
        u.session.add(
            ExternalRecord(handoff_id=ids["h2"], target="ops", vendor="asana", status="failed")
        )
        u.session.add(
            ExternalRecord(handoff_id=ids["h1"], target="finance", vendor="xero", status="done")
        )
        u.session.add(
            OutboxJob(handoff_id=ids["h3"], action="crm.note", idempotency_key="k1", status="dead")
        )
        u.session.add(
            OutboxJob(handoff_id=ids["h4"], action="crm.note", idempotency_key="k2", status="done")
        )
        u.commit()
    return ids


def _by_key(figures: list[TeamMonth]) -> dict[tuple[str, str], TeamMonth]:
    return {(f.team, f.month): f for f in figures}


def test_stats_figures_match_the_hand_computed_month(
    uow: UnitOfWorkFactory, org: OrgConfig, dataset: dict[str, int]
) -> None:
    figures = _by_key(health_figures(uow, org, 3, NOW))
    assert figures[("sales", "2026-01")] == TeamMonth(
        team="sales",
        month="2026-01",
        opened=4,
        median_hours_to_submit=6.0,
        median_hours_to_confirm=None,
        confirmed_within_sla=None,
        questions_per_handoff=0.75,
        failed_effects=2,
    )
    assert figures[("ops", "2026-01")] == TeamMonth(
        team="ops",
        month="2026-01",
        opened=4,
        median_hours_to_submit=6.0,
        median_hours_to_confirm=1.0,
        confirmed_within_sla=1.0,
        questions_per_handoff=0.75,
        failed_effects=2,
    )
    finance = figures[("finance", "2026-01")]
    assert finance.median_hours_to_confirm == 5.0
    assert finance.confirmed_within_sla == pytest.approx(1 / 3)


def test_stats_months_window_and_undecided_confirmations(
    uow: UnitOfWorkFactory, org: OrgConfig, dataset: dict[str, int]
) -> None:
    figures = health_figures(uow, org, 3, NOW)
    assert sorted({f.month for f in figures}) == ["2025-12", "2026-01", "2026-02"]
    feb = _by_key(figures)[("ops", "2026-02")]
    assert (feb.opened, feb.median_hours_to_submit) == (1, 7.5)
    assert (feb.median_hours_to_confirm, feb.confirmed_within_sla) == (None, None)
    dec = _by_key(figures)[("sales", "2025-12")]
    assert (dec.opened, dec.median_hours_to_submit, dec.questions_per_handoff) == (1, None, 0.0)
    assert {f.month for f in health_figures(uow, org, 1, NOW)} == {"2026-02"}


def test_stats_csv_header_and_rows(
    uow: UnitOfWorkFactory, org: OrgConfig, dataset: dict[str, int]
) -> None:
    lines = stats_csv(health_figures(uow, org, 3, NOW)).splitlines()
    assert lines[0] == ",".join(CSV_HEADER)
    assert lines[0].startswith("team,team_name,month,opened,median_business_hours_won_to_submitted")
    assert "sales,Sales,2026-01,4,6.00,,,0.75,2" in lines
    assert "ops,Ops,2026-01,4,6.00,1.00,100.0,0.75,2" in lines
    assert "finance,Finance,2026-01,4,6.00,5.00,33.3,0.75,2" in lines
    assert "ops,Ops,2026-02,1,7.50,,,0.00,0" in lines
    assert len(lines) == 1 + 9


def test_stats_blocks_are_valid_and_bounded(
    uow: UnitOfWorkFactory, org: OrgConfig, dataset: dict[str, int]
) -> None:
    blocks = stats_blocks(health_figures(uow, org, 3, NOW))
    assert block_kit_problems(blocks) == []
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "context"]
    assert (
        "`2026-01` 4 opened · form 6.0 h · confirm 1.0 h · 100% within SLA"
        in blocks[2]["text"]["text"]
    )
    many = [TeamMonth(f"team{i}", "2026-01", 1, None, None, None, 0.0, 0) for i in range(80)]
    bounded = stats_blocks(many)
    assert len(bounded) == 50
    assert "32 more team(s)" in bounded[-1]["elements"][0]["text"]
    assert block_kit_problems(bounded) == []
    assert stats_blocks([])[1]["text"]["text"] == "No handoffs in this period."


def test_stats_empty_database(uow: UnitOfWorkFactory, org: OrgConfig) -> None:
    assert health_figures(uow, org, 6, NOW) == []
    assert stats_csv([]).splitlines() == [",".join(CSV_HEADER)]
