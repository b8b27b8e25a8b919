"""Nothing on Slack's clock waits for a vendor (issue 7), in the real process.

`python -m bot serve` runs in Socket Mode as in test_socket_mode, with its ops tool (Asana) and
finance tool (QuickBooks, token endpoint included) played by stand-ins that take every request
and never answer until the test lets them. While both hang, everything people do in Slack still
happens: the form is submitted, the handoff's message and thread appear, a question in the thread
shows on the message, and a Confirm click is acknowledged and shown. Only the records wait; once
the vendors answer, each is created once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bot.conftest import (
    FIN_MEMBER,
    OPS_MEMBER,
    SELLER,
    org_dict,
)
from tests.bot.test_delivery import ENV, REALM, TOOLS
from tests.bot.test_handoff_flow import DEAL, VALID
from tests.bot.test_process import wait_for
from tests.bot.test_socket_mode import (
    FORM,
    Running,
    click,
    command,
    form_view,
    handoff_id_on,
    hubspot_deal_contacts,
    root_message,
    serve_socket_mode,
    shows,
    submit,
    thread_reply,
)
from tests.integrations.fakes import FakeQuickBooks
from tests.support.fake_asana import FakeAsana
from tests.support.fake_hubspot import FakeHubSpot
from tests.support.fake_slack import FakeSlack
from tests.support.fake_socket_mode import FakeSocketMode
from tests.support.stub_server import Handler, Recorded, Reply, StubServer


class Stalled:
    """A vendor stand-in that holds every request until `answer()` (then behaves normally)."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._go = threading.Event()
        self.answered = 0
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply:
        self._go.wait()
        with self._lock:
            self.answered += 1
        return self._handler(request)

    def answer(self) -> None:
        self._go.set()


@dataclass
class StalledApp:
    run: Running
    asana: StubServer
    qbo: StubServer
    vendors: tuple[Stalled, Stalled]

    def answered(self) -> int:
        return sum(v.answered for v in self.vendors)

    def answer(self) -> None:
        for vendor in self.vendors:
            vendor.answer()


@pytest.fixture
def stalled_app(tmp_path: Path) -> Iterator[StalledApp]:
    slack = FakeSlack(
        users_by_email={"sam@seller.example": SELLER}, usergroups={"S0OPS": [OPS_MEMBER]}
    )
    hubspot = FakeHubSpot()
    asana, qbo = Stalled(FakeAsana()), Stalled(FakeQuickBooks(REALM).handle)

    with (
        FakeSocketMode() as link,
        slack.serving(),
        hubspot.serving(),
        StubServer(asana) as asana_server,
        StubServer(qbo) as qbo_server,
    ):
        org = org_dict()
        org["teams"]["ops"]["tool"] = TOOLS["asana"](asana_server.url)
        org["teams"]["finance"]["tool"] = TOOLS["quickbooks"](qbo_server.url)
        try:
            with serve_socket_mode(tmp_path, org, slack, hubspot, link, ENV) as running:
                yield StalledApp(running, asana_server, qbo_server, (asana, qbo))
        finally:
            asana.answer()  # let held requests finish so the stand-ins can stop
            qbo.answer()


def test_people_in_slack_never_wait_for_a_vendor_that_does_not_answer(
    stalled_app: StalledApp,
) -> None:
    run, asana, qbo = stalled_app.run, stalled_app.asana, stalled_app.qbo
    slack = run.slack
    run.link.wait_connected()
    assert run.link.connections, run.output()
    hubspot_deal_contacts(run)

    command(run, DEAL)
    assert wait_for(lambda: form_view(slack) is not None), run.output()
    found = form_view(slack)
    assert found is not None
    view_id, view = found
    for _ in range(3):
        reply = submit(run, view_id, view, VALID)
        assert reply["payload"]["response_action"] == "update", reply
        view = reply["payload"]["view"]
        if not str(view.get("callback_id", "")).startswith(FORM):
            break

    # Both tools have been asked and hold the requests; the message and thread appear anyway.
    assert wait_for(lambda: bool(asana.requests) and bool(qbo.requests)), run.output()
    assert wait_for(lambda: shows(root_message(slack), "Confirm for Operations")), run.output()
    root = root_message(slack)
    assert root is not None
    assert "record (Asana):* done" not in json.dumps(root.blocks)

    # A question in the thread shows on the message; a Confirm click is answered and shown.
    thread_reply(run, root.ts, OPS_MEMBER, "Who grants VPN access?", "1700000100.000100")
    assert wait_for(lambda: shows(root_message(slack), "Who grants VPN access?")), run.output()
    handoff_id = handoff_id_on(root)
    acked = click(run, "confirm_handoff:finance", f"{handoff_id}:finance", FIN_MEMBER)
    assert acked["envelope_id"]  # Slack got its acknowledgement over the socket
    assert wait_for(lambda: shows(root_message(slack), f"<@{FIN_MEMBER}>")), run.output()
    assert stalled_app.answered() == 0  # all of that while neither tool had answered anything

    # The tools answer: one project and one billing record, shown on the message.
    stalled_app.answer()
    done = ("*Operations record (Asana):* done", "*Finance record (QuickBooks):* done")
    assert wait_for(lambda: all(shows(root_message(slack), d) for d in done), seconds=60), (
        run.output()
    )
    projects = [r for r in asana.requests if r.method == "POST" and r.path.endswith("/projects")]
    assert len(projects) == 1
    assert run.link.problems == [] and slack.problems == []
