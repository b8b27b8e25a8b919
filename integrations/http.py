"""One HTTP client for every vendor: timeouts, short in-call retries, errors the outbox understands.

Retry policy, in short:
- 429 means the vendor did not act: retried here when Retry-After is short, else raised as
  `VendorUnavailable(retry_after=...)` so the outbox schedules the next attempt.
- 5xx and timeouts on a *safe* request (GET, or a write carrying an idempotency key) are retried
  here with exponential backoff and jitter; on an unsafe write they raise `VendorOutcomeUnknown`,
  because the vendor may have created the record: the caller must look for it before trying again.
- Other 4xx raise `VendorRejected` with the vendor's own words, and are never retried.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from integrations.ports import NotFound, VendorOutcomeUnknown, VendorRejected, VendorUnavailable

log = logging.getLogger(__name__)

AuthHeaders = Callable[[], Mapping[str, str]]
Sleep = Callable[[float], None]

IN_CALL_RETRY_AFTER_LIMIT = 5.0  # longer waits go back to the outbox instead of holding a worker


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class VendorHttp:
    """A `requests` session bound to one vendor's base URL and credentials."""

    def __init__(
        self,
        vendor: str,
        base_url: str,
        auth_headers: AuthHeaders,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_attempts: int = 3,
        backoff: float = 0.5,
        sleep: Sleep = time.sleep,
        session: requests.Session | None = None,
        describe_error: Callable[[requests.Response], tuple[str, str | None]] | None = None,
        throttle: Callable[[], None] | None = None,
    ) -> None:
        self.vendor = vendor
        # Waits for the vendor's shared request budget before each attempt (rate limits).
        self._throttle = throttle
        self.base_url = base_url.rstrip("/")
        self._auth_headers = auth_headers
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._sleep = sleep
        self._session = session or requests.Session()
        self._describe_error = describe_error or default_error_text

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        safe_to_repeat: bool | None = None,
    ) -> requests.Response:
        """Send one logical request; returns a 2xx response or raises a VendorError."""
        safe = method.upper() in {"GET", "HEAD"} if safe_to_repeat is None else safe_to_repeat
        url = self.url(path)
        attempt = 0
        while True:
            attempt += 1
            all_headers = {"Accept": "application/json", **self._auth_headers(), **(headers or {})}
            if self._throttle is not None:
                self._throttle()
            try:
                response = self._session.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    data=data,
                    headers=all_headers,
                    timeout=self._timeout,
                )
            except requests.ConnectionError as exc:
                # Nothing reached the vendor only if the connection itself failed to open.
                if attempt < self._max_attempts and (safe or _never_sent(exc)):
                    self._pause(attempt, None)
                    continue
                error = VendorUnavailable if _never_sent(exc) else VendorOutcomeUnknown
                raise error(self.vendor, f"{method} {path}: connection failed") from exc
            except requests.Timeout as exc:
                if safe and attempt < self._max_attempts:
                    self._pause(attempt, None)
                    continue
                raise VendorOutcomeUnknown(self.vendor, f"{method} {path}: timed out") from exc

            status = response.status_code
            if status < 400:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            message, field = self._describe_error(response)
            log.info(
                "vendor_http_error vendor=%s method=%s path=%s status=%s attempt=%s",
                self.vendor,
                method,
                path,
                status,
                attempt,
            )
            if status == 429:
                if attempt < self._max_attempts and (retry_after or 0) <= IN_CALL_RETRY_AFTER_LIMIT:
                    self._pause(attempt, retry_after)
                    continue
                raise VendorUnavailable(
                    self.vendor, f"rate limited: {message}", status=status, retry_after=retry_after
                )
            if status >= 500:
                if safe and attempt < self._max_attempts:
                    self._pause(attempt, retry_after)
                    continue
                error = VendorUnavailable if safe else VendorOutcomeUnknown
                raise error(self.vendor, message, status=status, retry_after=retry_after)
            if status == 404:
                raise NotFound(self.vendor, message, status=status, field=field)
            raise VendorRejected(self.vendor, message, status=status, field=field)

    def _pause(self, attempt: int, retry_after: float | None) -> None:
        delay = retry_after if retry_after is not None else self._backoff * 2 ** (attempt - 1)
        self._sleep(delay + random.uniform(0, self._backoff / 2))  # noqa: S311 - jitter only


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the TCP connection was never established (so the vendor cannot have acted)."""
    text = str(exc).lower()
    return (
        "connection refused" in text or "failed to establish" in text or "name or service" in text
    )


def default_error_text(response: requests.Response) -> tuple[str, str | None]:
    """The vendor's own message (and the field it names, if any) from an error response."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}", None
    return f"HTTP {response.status_code}: {str(body)[:500]}", None
