"""The HubSpot sweep: a won deal is found without any webhook, and gated once across both paths."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from bot.config import parse_org_config
from bot.services.handoffs import GateOutcome, WonEvent
from bot.services.hubspot_sweep import OVERLAP, HubSpotSweep
from bot.worker import schedule_jobs
from integrations.http import VendorHttp
from integrations.hubspot import HubSpotConfig, HubSpotCrm
from storage.models import Handoff, SweepWatermark
from storage.uow import UnitOfWorkFactory
from tests.bot.conftest import SELLER, FakeClock, Harness, org_dict, won_event
from tests.support.fake_hubspot import FakeHubSpot

SEARCH = "/crm/v3/objects/deals/search"


def _handoffs(h: Harness) -> list[Handoff]:
    with h.services.uow() as uow:
        return list(uow.session.scalars(select(Handoff)))


def _sweep_job(h: Harness) -> Any:
    """The sweep exactly as the worker schedules it."""
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_jobs(scheduler, h.services)
    [job] = [j for j in scheduler.get_jobs() if j.id == "hubspot_sweep"]
    return job


def _run(job: Any) -> Any:
    return job.func(*job.args, **job.kwargs)


def _won_at(h: Harness) -> int:
    return int(h.clock.now.timestamp() * 1000)


def test_sweep_deal_won_without_webhook_dms_salesperson_within_one_interval(
    harness: Harness,
) -> None:
    job = _sweep_job(harness)
    assert job.trigger.interval == timedelta(seconds=120)  # hubspot.sweep_seconds default
    harness.hubspot.add_deal("201", name="Globex rollout", stage="appointmentscheduled")
    _run(job)  # the sweep before the deal is won: nothing to do

    harness.clock.advance(seconds=5)
    harness.hubspot.set_stage("201", "closedwon")  # in HubSpot's UI; no webhook is sent
    harness.clock.advance(seconds=120)  # the next tick of the interval
    report = _run(job)

    assert report.outcomes == {"created": 1}
    [handoff] = _handoffs(harness)
    assert handoff.deal_id == "201"
    assert harness.hubspot.stage_changes == [("201", "4242")]
    [dm] = harness.slack.dms_to(SELLER)
    assert "Globex rollout" in dm.text
    assert report.missed_by_webhook == ["201"]  # HTTP mode: logged as a webhook miss


def test_sweep_after_webhook_same_deal_gives_one_handoff(harness: Harness) -> None:
    job = _sweep_job(harness)
    harness.hubspot.add_deal("202", stage="closedwon")
    # HubSpot's search index still shows the deal in the won stage after our hold.
    harness.hubspot.freeze_index()
    event = {**won_event("202", 1), "occurredAt": _won_at(harness)}
    harness.hubspot_webhook([event])
    harness.clock.advance(seconds=120)

    report = _run(job)

    assert report.outcomes == {"already_gated": 1}
    assert len(_handoffs(harness)) == 1
    assert harness.hubspot.stage_changes == [("202", "4242")]
    assert len(harness.slack.dms_to(SELLER)) == 1


def test_sweep_before_late_webhook_same_deal_gives_one_handoff(harness: Harness) -> None:
    job = _sweep_job(harness)
    won_at = _won_at(harness)
    harness.hubspot.add_deal("203", stage="closedwon")
    harness.clock.advance(seconds=60)
    _run(job)

    harness.clock.advance(seconds=30)  # HubSpot's retried delivery arrives after the sweep
    response = harness.hubspot_webhook([{**won_event("203", 9), "occurredAt": won_at}])

    assert response.status == 200
    assert len(_handoffs(harness)) == 1
    assert harness.hubspot.stage_changes == [("203", "4242")]
    assert len(harness.slack.dms_to(SELLER)) == 1


def test_sweep_deal_moved_back_to_won_after_hold_is_held_again(harness: Harness) -> None:
    job = _sweep_job(harness)
    harness.hubspot.add_deal("204", stage="closedwon")
    harness.clock.advance(seconds=60)
    _run(job)
    harness.clock.advance(seconds=60)
    harness.hubspot.set_stage("204", "closedwon")  # someone bypasses the hold by hand
    harness.clock.advance(seconds=120)

    report = _run(job)

    assert report.outcomes == {"held_again": 1}
    assert harness.hubspot.stage_changes == [("204", "4242"), ("204", "4242")]
    assert len(_handoffs(harness)) == 1


def test_sweep_repeated_runs_over_the_overlap_gate_once(harness: Harness) -> None:
    job = _sweep_job(harness)
    harness.hubspot.add_deal("205", stage="closedwon")
    harness.hubspot.freeze_index()  # the index keeps showing it won for a while
    harness.clock.advance(seconds=30)
    _run(job)
    harness.clock.advance(seconds=30)
    report = _run(job)

    assert report.outcomes == {"duplicate": 1}
    assert harness.hubspot.stage_changes == [("205", "4242")]


def test_sweep_watermark_survives_a_restart(harness: Harness) -> None:
    harness.hubspot.add_deal("206", stage="closedwon")
    modified = harness.clock.now
    harness.clock.advance(seconds=60)
    _run(_sweep_job(harness))
    with harness.services.uow() as uow:
        [row] = uow.session.scalars(select(SweepWatermark))
        assert row.modified_after == modified
    harness.hubspot.server.requests.clear()  # type: ignore[union-attr]

    harness.clock.advance(hours=5)  # the process was down for hours
    _run(_sweep_job(harness))  # a fresh sweep object, as after a restart

    [request] = harness.hubspot.server.calls("POST", SEARCH)  # type: ignore[union-attr]
    [since] = [
        f["value"]
        for f in request.json["filterGroups"][0]["filters"]
        if f["propertyName"] == "hs_lastmodifieddate"
    ]
    assert int(since) == int((modified - OVERLAP).timestamp() * 1000)


def test_sweep_turned_off_with_zero_seconds(make_harness: Any) -> None:
    org = org_dict()
    org["hubspot"] = {**org["hubspot"], "sweep_seconds": 0}
    harness = make_harness(org=parse_org_config(org))
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_jobs(scheduler, harness.services)
    assert "hubspot_sweep" not in [j.id for j in scheduler.get_jobs()]


# --- paging and HubSpot's search limits, over HTTP against the stand-in -----------------------


class RecordingGate:
    def __init__(self) -> None:
        self.seen: list[WonEvent] = []

    def deals_won(self, events: Sequence[WonEvent], *, source: str) -> list[GateOutcome]:
        self.seen.extend(events)
        return [GateOutcome(1, "created") for _ in events]


def test_sweep_pages_within_search_limits_and_reanchors_before_the_result_cap(
    uow_factory: UnitOfWorkFactory,
) -> None:
    start = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    hubspot = FakeHubSpot(search_max_total=400)  # HubSpot: 10,000; smaller here
    for i in range(450):
        hubspot.add_deal(str(1000 + i), stage="closedwon", modified=start + timedelta(seconds=i))
    clock = FakeClock(start + timedelta(minutes=10))
    org = parse_org_config(org_dict())
    pauses: list[float] = []
    gate = RecordingGate()
    with hubspot.serving() as server:
        crm = HubSpotCrm(HubSpotConfig(), VendorHttp("hubspot", server.url, dict))
        sweep = HubSpotSweep(
            uow_factory,
            crm,
            gate,
            clock,
            org,
            webhook_expected=False,
            sleep=pauses.append,
            result_cap=400,
        )
        with uow_factory() as uow:
            uow.session.add(SweepWatermark(name="hubspot_deals_won", modified_after=start))
            uow.commit()

        report = sweep.run()

        bodies = [r.json for r in server.calls("POST", SEARCH)]
    assert all(b["limit"] == 200 for b in bodies)
    assert all(
        b["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
        for b in bodies
    )
    assert [b.get("after") for b in bodies][:2] == [None, "200"]
    assert bodies[2].get("after") is None  # a new query from the newest deal seen, not page 3
    assert {e.deal_id for e in gate.seen} == {str(1000 + i) for i in range(450)}
    assert len(pauses) == report.pages - 1 and all(p >= 0.25 for p in pauses)
    with uow_factory() as uow:
        row = uow.session.get(SweepWatermark, "hubspot_deals_won")
        assert row is not None and row.modified_after == start + timedelta(seconds=449)


def test_sweep_holds_a_won_deal_whose_handoff_was_started_by_hand(harness: Harness) -> None:
    job = _sweep_job(harness)
    harness.hubspot.add_deal("207", stage="closedwon")
    harness.clock.advance(seconds=30)
    harness.services.handoffs.start_manual("207", SELLER)  # `/handoff 207`, no gate yet

    report = _run(job)

    assert report.outcomes == {"held_again": 1}
    assert harness.hubspot.stage_changes == [("207", "4242")]
    assert len(_handoffs(harness)) == 1
