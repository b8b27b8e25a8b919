"""The thread's amendment note stays inside Slack's limits however much changed."""

from __future__ import annotations

import json

from bot.render.amendment import MAX_LINES, AmendmentMessage, render
from forms.changes import FieldChange
from tests.support.fake_slack import block_kit_problems


def message(changes: list[FieldChange]) -> AmendmentMessage:
    return AmendmentMessage(
        handoff_id=7,
        title="Acme <Ltd> & Co",
        version=4,
        author_user_id="U0SELLER",
        changes=changes,
        teams=[("<!subteam^S0OPS>", "Operations & Delivery")],
    )


def test_amendment_note_lists_what_fits_and_points_to_view_handoff_for_the_rest() -> None:
    long = "x" * 2000
    changes = [FieldChange("Context", f"Field {n}", long, long + "y") for n in range(60)]

    text, blocks = render(message(changes))

    assert block_kit_problems(blocks) == []
    shown = json.dumps(blocks, ensure_ascii=False)
    listed = shown.count("• *Field ")
    assert 0 < listed < MAX_LINES  # one section block holds a few 300-character values
    assert f"…and {60 - listed} more changes not listed here. Press *View handoff*" in shown
    assert blocks[-1]["elements"][0]["action_id"] == "view_handoff"
    assert blocks[-1]["elements"][0]["value"] == "7"
    assert text == "Handoff amended to version 4 (60 changes): Acme &lt;Ltd&gt; &amp; Co"
    assert "Operations &amp; Delivery" in shown


def test_amendment_note_keeps_people_as_mentions_and_escapes_typed_markup() -> None:
    changes = [
        FieldChange("Key contacts", "Our delivery lead", "<@U0OLD>", "<@U0NEW>"),
        FieldChange("Context", "Promises made", "None", "Call <@U0CEO> <!here> daily"),
    ]

    _, blocks = render(message(changes))

    shown = json.dumps(blocks, ensure_ascii=False)
    assert "*Our delivery lead:* <@U0OLD> → <@U0NEW>" in shown
    assert "None → Call &lt;@U0CEO&gt; &lt;!here&gt; daily" in shown


def test_amendment_note_without_teams_to_ask_says_the_confirmations_stand() -> None:
    plain = AmendmentMessage(7, "Acme", 2, None, [FieldChange("Billing", "PO", "A", "B")], [])

    _, blocks = render(plain)

    assert "No team needs to confirm again" in json.dumps(blocks, ensure_ascii=False)
    assert blocks[0]["text"]["text"].startswith(":pencil2: Someone amended")
