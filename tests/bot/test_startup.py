"""Starting the app: missing credentials or a bad org file stop it with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_app(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HUBSPOT_"))}
    clean.update(PYTHONPATH=str(ROOT), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", **env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_startup_without_slack_credentials_names_each_missing_variable(tmp_path: Path) -> None:
    result = run_app(tmp_path)

    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "SLACK_SIGNING_SECRET" in result.stderr
    assert "OAuth & Permissions" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_startup_with_bad_org_file_names_the_key(tmp_path: Path) -> None:
    example = (ROOT / "org.example.yml").read_text()
    (tmp_path / "org.yml").write_text(example.replace("Europe/London", "Europe/Lndon", 1))

    result = run_app(tmp_path, "check", SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s")

    assert result.returncode == 2
    assert "teams.ops.working_hours.timezone" in result.stderr
    assert "Europe/Lndon" in result.stderr
    assert "Traceback" not in result.stderr


def test_startup_check_accepts_the_shipped_example(tmp_path: Path) -> None:
    (tmp_path / "org.yml").write_text((ROOT / "org.example.yml").read_text())

    result = run_app(
        tmp_path,
        "check",
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        ASANA_TOKEN="a",
        QBO_CLIENT_ID="c",
        QBO_CLIENT_SECRET="s",
        QBO_REFRESH_TOKEN="r",
    )

    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout


def test_startup_without_org_file_says_how_to_make_one(tmp_path: Path) -> None:
    result = run_app(tmp_path, "check", SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s")

    assert result.returncode == 2
    assert "org.example.yml" in result.stderr


def test_startup_names_a_missing_vendor_token_with_its_team(tmp_path: Path) -> None:
    (tmp_path / "org.yml").write_text((ROOT / "org.example.yml").read_text())

    result = run_app(tmp_path, "check", SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s")

    assert result.returncode == 2
    assert "teams.ops.tool (asana)" in result.stderr
    assert "ASANA_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
