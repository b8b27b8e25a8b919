"""How fast the HubSpot webhook answers: the gate only writes rows; vendor calls go to the outbox.

Run: .venv/bin/python bench/webhook_gate.py [--database-url URL] [--rounds N]
Reports p50/p95/max milliseconds per request for a 1-event and a 100-event batch (each event a
new won deal), on SQLite by default. Figures only: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

from bot.config import parse_org_config
from bot.services.handoffs import HandoffService
from bot.services.obligations import ObligationBook
from bot.services.ports import system_clock
from bot.webhooks import HubSpotWebhook
from storage.db import create_engine_for, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWorkFactory

SECRET = "bench-secret"
URI = "https://handoff.example.com/webhooks/hubspot"
ORG = {
    "handoff_channel": "C1",
    "admin_user": "U1",
    "teams": {
        "sales": {"name": "Sales", "members": {"users": ["U2"]}},
        "ops": {"name": "Ops", "members": {"users": ["U3"]}},
        "finance": {"name": "Finance", "members": {"users": ["U4"]}},
    },
    "hubspot": {"pending_stage": "4242", "app_id": "1"},
}


def signed(events: list[dict[str, object]]) -> tuple[dict[str, str], bytes]:
    body = json.dumps(events).encode()
    timestamp = str(int(time.time() * 1000))
    digest = hmac.new(
        SECRET.encode(), b"POST" + URI.encode() + body + timestamp.encode(), hashlib.sha256
    ).digest()
    headers = {
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": timestamp,
    }
    return headers, body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        engine = create_engine_for(url)
        upgrade(engine)
        org = parse_org_config(ORG)
        uow = UnitOfWorkFactory(session_factory(engine))
        service = HandoffService(uow, org, system_clock, ObligationBook(org))
        webhook = HubSpotWebhook(SECRET, org, service)
        ids = itertools.count(1)
        print(f"database: {engine.dialect.name}, rounds: {args.rounds}")
        for batch in (1, 100):
            timings = []
            for _ in range(args.rounds):
                events = []
                for _ in range(batch):
                    n = next(ids)
                    events.append(
                        {
                            "eventId": n,
                            "subscriptionId": 1,
                            "portalId": 1,
                            "appId": 1,
                            "occurredAt": 1,
                            "subscriptionType": "deal.propertyChange",
                            "attemptNumber": 0,
                            "objectId": n,
                            "changeSource": "CRM_UI",
                            "propertyName": "dealstage",
                            "propertyValue": "closedwon",
                        }
                    )
                headers, body = signed(events)
                start = time.perf_counter()
                response = webhook.handle("POST", URI, headers, body)
                timings.append((time.perf_counter() - start) * 1000)
                assert response.status == 200, response.body
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(
                f"batch of {batch:>3} won deals: p50 {statistics.median(timings):7.1f} ms  "
                f"p95 {p95:7.1f} ms  max {timings[-1]:7.1f} ms"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
