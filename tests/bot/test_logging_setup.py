"""What the operator's log shows: one line per event, even when the event's text has newlines."""

from __future__ import annotations

import logging

import pytest
from slack_sdk.errors import SlackApiError

from bot.logging_setup import configure_logging


def test_an_event_with_newlines_and_a_traceback_stays_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("INFO")
        log = logging.getLogger("bot.services.teams")
        error = SlackApiError("down", {"ok": False, "error": "service_unavailable"})
        assert "\n" in str(error)  # Slack's own text spans lines
        log.warning("usergroup_lookup_failed group=%s error=%s", "S0OPS", error)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("outbox_perform_failed job=%s", 7)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert (
        " WARNING bot.services.teams usergroup_lookup_failed group=S0OPS error=down\\n" in lines[0]
    )
    assert "outbox_perform_failed job=7\\nTraceback" in lines[1]
    assert lines[1].endswith("RuntimeError: boom")
