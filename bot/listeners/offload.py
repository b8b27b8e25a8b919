"""Hands work a listener started to a pool off Bolt's acknowledging threads.

Listeners answer Slack from the database; anything that calls Slack or a vendor after that runs
here, so a slow call never holds the thread that acknowledges the next request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

log = logging.getLogger(__name__)


def offload(executor: Executor, what: str, fn: Callable[..., object], *args: Any) -> None:
    """Run `fn(*args)` on `executor`; a failure is logged, since Slack was answered already."""

    def run() -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("offloaded_work_failed what=%s", what)

    executor.submit(run)
