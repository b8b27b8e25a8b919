"""What a salesperson types reaches Slack as text: never a mention, a broadcast or a link."""

from __future__ import annotations

import json

from tests.bot.conftest import HANDOFF_CHANNEL, Harness
from tests.bot.test_handoff_flow import VALID, open_form, submit, won_and_dm

HOSTILE = "<!channel> see <https://evil.example|the invoice> & pay"
ESCAPED = "&lt;!channel&gt; see &lt;https://evil.example|the invoice&gt; &amp; pay"


def test_message_form_answer_is_escaped_in_the_posted_handoff(harness: Harness) -> None:
    handoff_id, _ = won_and_dm(harness)
    view_id, view = open_form(harness, handoff_id)

    response = submit(harness, view_id, view, {**VALID, "why_they_bought": HOSTILE})

    assert response.status == 200, response.body
    [root] = harness.slack.in_channel(HANDOFF_CHANNEL)
    texts = [block["text"]["text"] for block in root.blocks if block.get("type") == "section"]
    [shown] = [text for text in texts if "see " in text]
    assert ESCAPED in shown
    raw = json.dumps(root.blocks)
    assert "<!channel>" not in raw and "<https://evil.example" not in raw
