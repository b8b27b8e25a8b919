"""app_manifest.yml is what Slack's "create from manifest" accepts, and it matches the code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

from bot.ids import Callback, Command
from tests.support.openapi_check import contracts_dir

ROOT = Path(__file__).resolve().parents[1]


def manifest() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "app_manifest.yml").read_text()))


def test_manifest_passes_slacks_manifest_schema() -> None:
    schema = json.loads(
        (contracts_dir() / "slack/manifest/slack-app-manifest.schema.json").read_text()
    )

    errors = [e.message for e in Draft7Validator(schema).iter_errors(manifest())]

    assert errors == []


def test_manifest_command_and_shortcut_are_the_ones_the_app_listens_to() -> None:
    features = manifest()["features"]

    assert [c["command"] for c in features["slash_commands"]] == [Command.HANDOFF]
    assert [s["callback_id"] for s in features["shortcuts"]] == [Callback.START_SHORTCUT]


def test_manifest_asks_only_for_the_scopes_the_app_uses() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])

    assert scopes == {
        "chat:write",
        "im:write",
        "users:read",
        "users:read.email",
        "usergroups:read",
        "commands",
        "channels:history",
        "groups:history",
        "files:write",
    }


def test_manifest_subscribes_to_the_events_the_app_handles() -> None:
    events = set(manifest()["settings"]["event_subscriptions"]["bot_events"])

    assert events == {"app_home_opened", "message.channels", "message.groups"}
    assert manifest()["features"]["app_home"]["home_tab_enabled"] is True


def test_manifest_for_http_mode_fills_every_request_url_and_validates() -> None:
    from bot.manifest import http_manifest, render

    schema = json.loads(
        (contracts_dir() / "slack/manifest/slack-app-manifest.schema.json").read_text()
    )

    generated = yaml.safe_load(render(http_manifest("https://handoff.example.com/")))

    assert [e.message for e in Draft7Validator(schema).iter_errors(generated)] == []
    url = "https://handoff.example.com/slack/events"
    assert generated["settings"]["socket_mode_enabled"] is False
    assert generated["settings"]["event_subscriptions"]["request_url"] == url
    assert generated["settings"]["interactivity"]["request_url"] == url
    assert [c["url"] for c in generated["features"]["slash_commands"]] == [url]
    assert generated["oauth_config"] == manifest()["oauth_config"]


def test_manifest_for_http_mode_refuses_a_url_slack_cannot_use() -> None:
    import pytest

    from bot.manifest import http_manifest

    with pytest.raises(ValueError, match="https"):
        http_manifest("http://localhost:3000")


def test_manifest_command_prints_the_http_manifest() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "bot", "manifest", "--url", "https://handoff.example.com"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    assert printed["settings"]["socket_mode_enabled"] is False
    assert printed["features"]["slash_commands"][0]["url"].startswith("https://handoff.example")
