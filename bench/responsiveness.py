"""Is Slack answered at once while the CRM and the tools are slow? Figures, never assertions.

Two measurements, each against local stand-ins on 127.0.0.1 (nothing leaves the machine):

  acks    300 "Complete handoff" clicks and 1,000 thread replies, 50 at a time, sent signed to
          the real app (`python -m bot serve`, HTTP under gunicorn) while every vendor stand-in
          takes 5 s per call; the same clicks and replies sent to a bare Bolt app (ack only) in
          the same run. Reports ack p50/p99, the p99 ratio, failed acks (no 200 within 3 s) and
          expired triggers (a `views.open` more than 3 s after its click).
  burst   20 and 50 handoffs submitted back to back while Asana, QuickBooks and HubSpot take
          1 s per call: seconds from the last submission until every handoff's thread is posted,
          and until every record exists. SQLite with the outbox in this process, or PostgreSQL
          (--database-url) with a separate `python -m bot worker` as the Procfile runs it.

Run from the repository root:
  .venv/bin/python bench/responsiveness.py acks
  .venv/bin/python bench/responsiveness.py burst
  .venv/bin/python bench/responsiveness.py burst --database-url postgresql://u:p@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import hmac
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bot.conftest import org_dict  # noqa: E402 - the bench runs from a checkout
from tests.support.fake_asana import FakeAsana  # noqa: E402
from tests.support.fake_hubspot import FakeHubSpot  # noqa: E402
from tests.support.stub_server import Recorded, Reply, StubServer  # noqa: E402

SIGNING_SECRET = "bench-signing-secret"
SELLER, OPS_MEMBER, CHANNEL = "U0SELLER", "U0OPS1", "C0HANDOFF"
TRIGGER_LIFETIME = 3.0  # seconds Slack honours a trigger_id
ACK_DEADLINE = 3.0


# --- a fast Slack stand-in that also checks trigger ages ---------------------------------------


class BenchSlack:
    """Answers the Web API calls the app makes; `views.open` refuses a trigger older than 3 s."""

    def __init__(self) -> None:
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self.expired = 0
        self.opened = 0
        self.root_posts: dict[str, float] = {}  # message ts -> monotonic time posted

    def __call__(self, request: Recorded) -> Reply:
        method = request.path.rsplit("/", 1)[-1]
        args = _args(request)
        if method == "views.open":
            issued = float(str(args.get("trigger_id", "0.0")).split(".", 1)[1] or 0) / 1e6
            with self._lock:
                if time.time() - issued > TRIGGER_LIFETIME:
                    self.expired += 1
                    return Reply(200, {"ok": False, "error": "expired_trigger_id"})
                self.opened += 1
            return Reply(200, {"ok": True, "view": {"id": f"V{next(self._ts)}", "hash": "h"}})
        if method in ("views.update", "views.publish"):
            return Reply(200, {"ok": True, "view": {"id": args.get("view_id", "V0"), "hash": "h"}})
        if method == "chat.postMessage":
            ts = f"1800000000.{next(self._ts):06d}"
            if args.get("channel") == CHANNEL and not args.get("thread_ts"):
                with self._lock:
                    self.root_posts[ts] = time.monotonic()
            return Reply(200, {"ok": True, "channel": args.get("channel"), "ts": ts})
        replies: dict[str, dict[str, Any]] = {
            "auth.test": {"team_id": "T1", "user_id": "UBOT", "bot_id": "B1"},
            "chat.update": {"channel": args.get("channel"), "ts": args.get("ts")},
            "chat.getPermalink": {"permalink": "https://example.slack.com/archives/C/p1"},
            "users.info": {"user": {"id": args.get("user"), "real_name": "Someone"}},
            "users.lookupByEmail": {"user": {"id": SELLER}},
            "usergroups.users.list": {"users": [OPS_MEMBER]},
            "conversations.open": {"channel": {"id": "D0SELLER"}},
        }
        return Reply(200, {"ok": True, **replies.get(method, {})})


def _args(request: Recorded) -> dict[str, Any]:
    if not request.body:
        return {k: v[-1] for k, v in request.query.items()}
    if request.headers.get("Content-Type", "").startswith("application/json"):
        return dict(json.loads(request.body))
    from urllib.parse import parse_qs

    return {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}


def slowed(handler: Callable[[Recorded], Reply], seconds: float) -> Callable[[Recorded], Reply]:
    """The same answers, each `seconds` late: a vendor having a bad day."""

    def slow(request: Recorded) -> Reply:
        return dataclasses.replace(handler(request), delay=seconds)

    return slow


# --- running the app and the bare Bolt app ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_env(tmp: Path, db_url: str, slack_url: str, hubspot_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HUBSPOT_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        PORT=str(port),
        ORG_CONFIG=str(tmp / "org.yml"),
        DATABASE_URL=db_url,
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_url,
        HUBSPOT_TOKEN="pat-bench",
        HUBSPOT_CLIENT_SECRET="bench-hubspot-secret",
        HUBSPOT_BASE_URL=hubspot_url,
        LOG_LEVEL="WARNING",
    )
    return env


@contextmanager
def process(args: list[str], env: dict[str, str], cwd: Path, health: str | None) -> Iterator[None]:
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        if health:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if requests.get(health, timeout=1).status_code < 500:
                        break
                except requests.ConnectionError:
                    time.sleep(0.2)
            else:
                raise SystemExit(f"{' '.join(args)} did not start")
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# --- the ack measurement ------------------------------------------------------------------------


def signed_post(url: str, body: str, content_type: str) -> requests.Response:
    timestamp = str(int(time.time()))
    digest = hmac.new(
        SIGNING_SECRET.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": content_type,
        "X-Slack-Signature": f"v0={digest}",
        "X-Slack-Request-Timestamp": timestamp,
    }
    return requests.post(url, data=body, headers=headers, timeout=30)


def click_body(handoff_id: int) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": SELLER, "username": "sam", "team_id": "T1"},
        "api_app_id": "A1",
        "token": "x",
        "team": {"id": "T1", "domain": "bench"},
        "trigger_id": f"{handoff_id}.{int(time.time() * 1e6)}",
        "channel": {"id": "D0SELLER", "name": "directmessage"},
        "container": {"type": "message", "channel_id": "D0SELLER", "message_ts": "1.2"},
        "actions": [
            {
                "type": "button",
                "action_id": "open_form",
                "block_id": "form_request",
                "value": str(handoff_id),
                "text": {"type": "plain_text", "text": "Complete handoff"},
                "action_ts": "1.2",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def reply_body(n: int, thread_ts: str) -> str:
    ts = f"1900000000.{n:06d}"
    event = {
        "type": "message",
        "channel": CHANNEL,
        "user": OPS_MEMBER,
        "text": f"Question {n}: who grants VPN access?",
        "ts": ts,
        "thread_ts": thread_ts,
        "event_ts": ts,
        "channel_type": "channel",
    }
    envelope = {
        "token": "x",
        "team_id": "T1",
        "api_app_id": "A1",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{n}",
        "event_time": int(time.time()),
    }
    return json.dumps(envelope)


@dataclasses.dataclass
class AckFigures:
    latencies: list[float]
    failed: int

    def line(self, name: str) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
        return f"{name:<34} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   failed acks {self.failed}"

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(len(ordered) * 0.99) - 1]


Body = Callable[[], tuple[str, str]]


def fire(url: str, bodies: list[Body], concurrency: int) -> AckFigures:
    """Send every body, `concurrency` at a time; time each until Slack would have its answer.
    Bodies are made at send time, so each click's trigger_id is issued as it is sent."""

    def one(make: Body) -> tuple[float, bool]:
        body, ctype = make()
        started = time.monotonic()
        try:
            response = signed_post(url, body, ctype)
            ok = response.status_code == 200
        except requests.RequestException:
            ok = False
        took = time.monotonic() - started
        return took, ok and took <= ACK_DEADLINE

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, bodies))
    return AckFigures([t for t, _ in results], sum(1 for _, ok in results if not ok))


def seed_handoffs(db_url: str, org_path: Path, count: int) -> tuple[list[int], str]:
    """Handoffs awaiting their form (CRM snapshot stored, as the gate's job leaves them) and one
    posted handoff whose thread the replies go to."""
    from bot.config import load_org_config
    from storage.db import create_engine_for, session_factory
    from storage.migrate import upgrade
    from storage.models import Handoff
    from storage.uow import UnitOfWorkFactory

    engine = create_engine_for(db_url)
    upgrade(engine)
    uow = UnitOfWorkFactory(session_factory(engine))
    load_org_config(org_path)
    now = datetime.now(UTC)
    snapshot = {"deal_id": "0", "name": "Bench deal", "company_name": "Bench Ltd"}
    ids: list[int] = []
    with uow() as unit:
        for n in range(count):
            handoff = Handoff(
                kind="sales_to_delivery",
                status="awaiting_form",
                deal_id=str(1000 + n),
                sender_user_id=SELLER,
                receiving_teams=["ops", "finance"],
                crm_snapshot={**snapshot, "deal_id": str(1000 + n)},
                crm_snapshot_at=now,
            )
            unit.repo.add(handoff)
            unit.flush()
            ids.append(handoff.id)
        posted = Handoff(
            kind="sales_to_delivery",
            status="delivered",
            deal_id="999",
            sender_user_id=SELLER,
            receiving_teams=["ops", "finance"],
            form_payload={},
            channel_id=CHANNEL,
            thread_ts="1700000000.000001",
        )
        unit.repo.add(posted)
        unit.commit()
    engine.dispose()
    return ids, "1700000000.000001"


def bench_acks(clicks: int, replies: int, concurrency: int, vendor_seconds: float) -> None:
    with tempfile.TemporaryDirectory() as raw, ExitStack() as stack:
        tmp = Path(raw)
        slack, hubspot = BenchSlack(), FakeHubSpot()
        slack_server = stack.enter_context(StubServer(slack))
        hubspot_server = stack.enter_context(hubspot.serving())
        hubspot_server.handler = slowed(hubspot_server.handler, vendor_seconds)
        org = org_dict(handoff_channel=CHANNEL)
        (tmp / "org.yml").write_text(yaml.safe_dump(org))
        db_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        ids, thread_ts = seed_handoffs(db_url, tmp / "org.yml", 50)
        app_port, bare_port = free_port(), free_port()
        env = app_env(tmp, db_url, slack_server.url + "/api/", hubspot_server.url, app_port)
        stack.enter_context(
            process(
                [sys.executable, "-m", "bot", "serve"],
                env,
                tmp,
                f"http://127.0.0.1:{app_port}/healthz",
            )
        )
        bare_env = {**env, "PORT": str(bare_port)}
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        bare_cmd = [gunicorn, "bare_bolt:wsgi", "--worker-class", "gthread", "--workers", "1"]
        bare_cmd += ["--threads", "8", "--bind", f"127.0.0.1:{bare_port}"]
        stack.enter_context(process(bare_cmd, bare_env, ROOT / "bench", None))
        time.sleep(2)

        form = "application/x-www-form-urlencoded"

        def click(n: int) -> Body:
            return lambda: (click_body(ids[n % len(ids)]), form)

        def reply(n: int) -> Body:
            return lambda: (reply_body(n, thread_ts), "application/json")

        click_bodies = [click(n) for n in range(clicks)]
        reply_bodies = [reply(n) for n in range(replies)]
        app_url = f"http://127.0.0.1:{app_port}/slack/events"
        bare_url = f"http://127.0.0.1:{bare_port}/slack/events"
        print(f"acks: {clicks} clicks and {replies} thread replies, {concurrency} at a time; ")
        print(f"every vendor stand-in answers in {vendor_seconds:g} s")
        bare_clicks = fire(bare_url, click_bodies, concurrency)
        app_clicks = fire(app_url, click_bodies, concurrency)
        time.sleep(TRIGGER_LIFETIME + 1)  # the last views.open calls land
        bare_replies = fire(bare_url, reply_bodies, concurrency)
        app_replies = fire(app_url, reply_bodies, concurrency)
        print(bare_clicks.line("bare Bolt, clicks"))
        print(app_clicks.line("Handoff, clicks"))
        print(f"{'':34} p99 ratio {app_clicks.p99 / bare_clicks.p99:.2f}x")
        print(f"{'':34} views.open {slack.opened}, expired triggers {slack.expired}")
        print(bare_replies.line("bare Bolt, thread replies"))
        print(app_replies.line("Handoff, thread replies"))
        print(f"{'':34} p99 ratio {app_replies.p99 / bare_replies.p99:.2f}x")


# --- the burst measurement ----------------------------------------------------------------------


def bench_burst(sizes: list[int], vendor_seconds: float, database_url: str | None) -> None:
    from bot.config import Settings, parse_org_config
    from bot.wiring import build_services, start_outbox
    from forms.sales_to_delivery import SPEC
    from tests.bot.test_delivery import ENV, TOOLS
    from tests.forms.conftest import SALES_VALUES
    from tests.integrations.fakes import FakeQuickBooks

    for size in sizes:
        with tempfile.TemporaryDirectory() as raw, ExitStack() as stack:
            tmp = Path(raw)
            slack, hubspot, asana = BenchSlack(), FakeHubSpot(), FakeAsana()
            qbo = FakeQuickBooks("9130")
            slack_server = stack.enter_context(StubServer(slack))
            hubspot_server = stack.enter_context(hubspot.serving())
            hubspot_server.handler = slowed(hubspot_server.handler, vendor_seconds)
            asana_server = stack.enter_context(StubServer(slowed(asana, vendor_seconds)))
            qbo_server = stack.enter_context(StubServer(slowed(qbo.handle, vendor_seconds)))
            raw_org = org_dict(handoff_channel=CHANNEL)
            raw_org["teams"]["ops"]["tool"] = TOOLS["asana"](asana_server.url)
            raw_org["teams"]["finance"]["tool"] = TOOLS["quickbooks"](qbo_server.url)
            (tmp / "org.yml").write_text(yaml.safe_dump(raw_org))
            db_url = database_url or f"sqlite:///{tmp / 'burst.sqlite3'}"
            env = dict(ENV)
            if database_url:
                _reset_postgres(database_url)
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                slack_bot_token="xoxb-bench",
                slack_signing_secret=SIGNING_SECRET,
                slack_api_url=slack_server.url + "/api/",
                database_url=db_url,
                hubspot_token="pat-bench",
                hubspot_base_url=hubspot_server.url,
            )
            services = build_services(settings, parse_org_config(raw_org), env=env)
            if database_url:  # the Procfile's worker, in its own process
                worker_env = app_env(tmp, db_url, slack_server.url + "/api/", hubspot_server.url, 0)
                stack.enter_context(
                    process(
                        [sys.executable, "-m", "bot", "worker"], {**worker_env, **env}, tmp, None
                    )
                )
                time.sleep(3)
            else:
                runner = start_outbox(services)
                stack.callback(runner.stop)
            payload = SPEC.parse(dict(SALES_VALUES))
            assert not isinstance(payload, dict), payload
            body = payload.model_dump(mode="json")
            handoff_ids = []
            for n in range(size):
                deal = str(5000 + n)
                hubspot.add_deal(deal, name=f"Burst deal {n}")
                handoff_id, _ = services.handoffs.start_manual(deal, SELLER)
                handoff_ids.append(handoff_id)
            # The forms take minutes to fill in: by the time they are submitted, the jobs their
            # creation queued (CRM snapshot, deal history) have run.
            _wait_idle(services)
            for handoff_id in handoff_ids:
                services.handoffs.submit(
                    handoff_id, SELLER, body, schema_version=SPEC.schema_version, account_name=""
                )
            submitted = time.monotonic()
            threads, records = _wait_delivered(services, handoff_ids, submitted)
            where = "PostgreSQL, separate worker" if database_url else "SQLite, one process"
            print(
                f"burst of {size:>2} ({where}), vendors {vendor_seconds:g} s/call: "
                f"threads posted {threads:5.1f} s, all records {records:5.1f} s after the last "
                "submission"
            )
            services.engine.dispose()


def _wait_delivered(services: Any, ids: list[int], since: float) -> tuple[float, float]:
    threads_at = records_at = None
    deadline = since + 600
    while time.monotonic() < deadline and records_at is None:
        with services.uow() as unit:
            handoffs = [unit.repo.handoff(i) for i in ids]
        if threads_at is None and all(h is not None and h.thread_ts for h in handoffs):
            threads_at = time.monotonic() - since
        done = all(
            h is not None and all(r.status == "done" for r in h.external_records) for h in handoffs
        )
        if done:
            records_at = time.monotonic() - since
        time.sleep(0.05)
    return threads_at or float("nan"), records_at or float("nan")


def _wait_idle(services: Any, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with services.uow() as unit:
            if unit.repo.next_due_at() is None:
                return
        time.sleep(0.2)


def _reset_postgres(url: str) -> None:
    from sqlalchemy import text

    from storage.db import create_engine_for

    engine = create_engine_for(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    acks = sub.add_parser("acks")
    acks.add_argument("--clicks", type=int, default=300)
    acks.add_argument("--replies", type=int, default=1000)
    acks.add_argument("--concurrency", type=int, default=50)
    acks.add_argument("--vendor-seconds", type=float, default=5.0)
    burst = sub.add_parser("burst")
    burst.add_argument("--sizes", default="20,50")
    burst.add_argument("--vendor-seconds", type=float, default=1.0)
    burst.add_argument("--database-url", help="PostgreSQL: its public schema is wiped first")
    args = parser.parse_args()
    if args.what == "acks":
        bench_acks(args.clicks, args.replies, args.concurrency, args.vendor_seconds)
    else:
        sizes = [int(s) for s in args.sizes.split(",")]
        bench_burst(sizes, args.vendor_seconds, args.database_url)


if __name__ == "__main__":
    main()
