"""The money-leak mismatch as Slack shows it: escaped, within Slack's limits, links never cut."""

from __future__ import annotations

from bot.render.money_check import mismatch_dm, mismatch_item
from storage.models import Handoff

LINKS = {
    "crm": "https://app.hubspot.com/contacts/1/record/0-3/42",
    "finance": "https://app.qbo.intuit.com/app/recurringtransactions?id=7",
    "thread": "https://slack.example/archives/C0/p1",
}


def _differences(count: int) -> list[dict[str, str]]:
    return [
        {"what": f"Schedule <{n}>", "expected": "x" * 400, "found": "y & z " * 60}
        for n in range(count)
    ]


def test_a_long_mismatch_keeps_its_links_and_escapes_every_value() -> None:
    handoff = Handoff(id=7, account_name="Acme <Ltd> & Co", deal_name="Acme rollout")

    item = mismatch_item(3, handoff, _differences(12), LINKS).to_dict()
    _, dm = mismatch_dm(handoff, _differences(12), LINKS)

    shown = item["text"]["text"]
    assert len(shown) <= 3000
    for url in LINKS.values():
        assert f"<{url}|" in shown  # cut in the differences, never in a link
        assert any(f"<{url}|" in block["text"]["text"] for block in dm)
    assert "Acme &lt;Ltd&gt; &amp; Co" in shown
    assert "<0>" not in shown and "&lt;0&gt;" in shown
    assert item["accessory"]["value"] == "3"
    assert all(len(block["text"]["text"]) <= 3000 for block in dm)
