"""The deal's CRM history from HubSpot: notes, calls, meetings and (opt-in) emails, newest first.

Endpoints (CRM v3 objects, v4 associations, v3 owners), all reads, through the shared `VendorHttp`:
- GET  /crm/v3/objects/deals/{id}?associations=contacts,companies   (createdAt, related records)
- GET  /crm/v4/objects/{deals|companies|contacts}/{id}/associations/{notes|calls|meetings|emails}
       paged with `after`, up to 500 per page
- POST /crm/v3/objects/{notes|calls|meetings|emails}/batch/read      (at most 100 ids a request)
- GET  /crm/v3/owners/{ownerId}                                      (the author's name)

Everything on the deal is read; what sits on its company and contacts only from `since` (by
default the deal's creation), since a company's older activity is about other deals.

Rate limits: HubSpot allows a private app 100 requests per 10 s on Free/Starter and 190 on
Professional/Enterprise (https://developers.hubspot.com/docs/developer-tooling/platform/
usage-guidelines). `RateWindow` keeps this reader under a configured share of that (90 by
default), and `VendorHttp` honours Retry-After on a 429 all the same.

Logs carry ids and counts only: engagement bodies and email text never reach a log line.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from integrations.http import VendorHttp
from integrations.ports import HistoryEntry, HistoryKind, HistoryQuery, NotFound

log = logging.getLogger(__name__)

ASSOCIATION_PAGE_LIMIT = 500  # v4 associations list maximum page size
BATCH_READ_LIMIT = 100  # inputs per CRM batch/read request
MAX_CONTACTS = 25  # contacts whose activity is read; bounds the requests one deal costs
TITLE_CAP = 120
WINDOW_SECONDS = 10.0


@dataclass(frozen=True)
class KindSpec:
    """Where one kind of engagement lives in HubSpot and which properties hold what."""

    object_type: str  # the CRM objects path segment
    type_id: str  # HubSpot's object type id
    title: str | None  # property holding the subject/title; None: the body's first line
    body: str
    alt_body: str | None = None  # HTML fallback when the plain body is empty


KINDS: dict[HistoryKind, KindSpec] = {
    "note": KindSpec("notes", "0-46", None, "hs_note_body"),
    "call": KindSpec("calls", "0-48", "hs_call_title", "hs_call_body"),
    "meeting": KindSpec("meetings", "0-47", "hs_meeting_title", "hs_meeting_body"),
    "email": KindSpec("emails", "0-49", "hs_email_subject", "hs_email_text", "hs_email_html"),
}
KIND_LABELS: dict[HistoryKind, str] = {
    "note": "Note",
    "call": "Call",
    "meeting": "Meeting",
    "email": "Email",
}
# Where an engagement was found: the record whose timeline shows it in HubSpot.
PARENT_TYPE_IDS = {"deals": "0-3", "companies": "0-2", "contacts": "0-1"}

_OBJECT_ID = re.compile(r"[1-9][0-9]{0,19}", re.ASCII)


class RateWindow:
    """At most `limit` requests in any `window` seconds, shared by the threads of one process."""

    def __init__(
        self,
        limit: int,
        window: float = WINDOW_SECONDS,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._monotonic = monotonic
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until one more request fits in the window, then count it."""
        while True:
            with self._lock:
                now = self._monotonic()
                while self._sent and now - self._sent[0] >= self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                pause = self.window - (now - self._sent[0])
            self._sleep(max(pause, 0.01))


@dataclass(frozen=True)
class _Found:
    kind: HistoryKind
    object_id: str
    parent_type: str  # "deals", "companies" or "contacts"
    parent_id: str
    on_deal: bool


class HistoryReader:
    """Reads one deal's engagements; the `Crm` port's `deal_history` delegates here."""

    def __init__(
        self,
        http: VendorHttp,
        *,
        portal_id: str | None,
        app_host: str,
        window: RateWindow,
    ) -> None:
        self._http = http
        self._portal_id = portal_id
        self._app_host = app_host.rstrip("/")
        self._window = window

    def read(self, deal_id: str, query: HistoryQuery) -> tuple[HistoryEntry, ...]:
        """Entries of the asked kinds, de-duplicated, newest first, at most `max_entries`."""
        if not _OBJECT_ID.fullmatch(deal_id):
            raise NotFound("hubspot", "not a HubSpot deal id")
        deal = self._get(
            f"/crm/v3/objects/deals/{deal_id}", {"associations": ["contacts", "companies"]}
        )
        since = query.since or _timestamp(str(deal.get("createdAt") or ""))
        parents = [("deals", deal_id)]
        parents += [("companies", cid) for cid in _associated(deal, "companies")]
        parents += [("contacts", cid) for cid in _associated(deal, "contacts")[:MAX_CONTACTS]]
        entries: list[HistoryEntry] = []
        owners: dict[str, str | None] = {}
        for kind in query.kinds:
            found = self._find(kind, parents)
            for record, where in self._records(kind, found):
                entry = self._entry(kind, record, where, query, owners)
                if entry is None:
                    continue
                # The deal's own activity is kept whole for a first handoff; a later one
                # (query.since given) wants only what is new.
                old = since is not None and entry.occurred_at < since
                if old and (query.since is not None or not where.on_deal):
                    continue
                entries.append(entry)
        entries.sort(key=lambda e: (e.occurred_at, e.source_id), reverse=True)
        kept = tuple(entries[: query.max_entries])
        log.info(
            "hubspot_history_read deal_id=%s kinds=%s found=%d kept=%d",
            deal_id,
            ",".join(query.kinds),
            len(entries),
            len(kept),
        )
        return kept

    # --- associations ---------------------------------------------------------------------------

    def _find(self, kind: HistoryKind, parents: Sequence[tuple[str, str]]) -> dict[str, _Found]:
        """Engagement ids of one kind on the deal, its companies and contacts (deal first)."""
        found: dict[str, _Found] = {}
        spec = KINDS[kind]
        for parent_type, parent_id in parents:
            for object_id in self._associated_ids(parent_type, parent_id, spec.object_type):
                if object_id not in found:
                    found[object_id] = _Found(
                        kind, object_id, parent_type, parent_id, parent_type == "deals"
                    )
                elif parent_type == "deals":
                    found[object_id] = _Found(kind, object_id, "deals", parent_id, True)
        return found

    def _associated_ids(self, from_type: str, from_id: str, to_type: str) -> Iterator[str]:
        path = f"/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}"
        params: dict[str, Any] = {"limit": ASSOCIATION_PAGE_LIMIT}
        while True:
            page = self._get(path, params)
            for item in page.get("results") or []:
                if isinstance(item, dict) and item.get("toObjectId") is not None:
                    yield str(item["toObjectId"])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
            params = {**params, "after": after}

    # --- records --------------------------------------------------------------------------------

    def _records(
        self, kind: HistoryKind, found: Mapping[str, _Found]
    ) -> Iterator[tuple[dict[str, Any], _Found]]:
        spec = KINDS[kind]
        properties = ["hs_timestamp", "hubspot_owner_id", spec.body]
        properties += [p for p in (spec.title, spec.alt_body) if p]
        ids = list(found)
        for start in range(0, len(ids), BATCH_READ_LIMIT):
            body = {
                "properties": properties,
                "propertiesWithHistory": [],
                "inputs": [{"id": i} for i in ids[start : start + BATCH_READ_LIMIT]],
            }
            response = self._request(
                "POST", f"/crm/v3/objects/{spec.object_type}/batch/read", json=body
            )
            for record in response.get("results") or []:
                if isinstance(record, dict) and str(record.get("id")) in found:
                    yield record, found[str(record["id"])]

    def _entry(
        self,
        kind: HistoryKind,
        record: Mapping[str, Any],
        where: _Found,
        query: HistoryQuery,
        owners: dict[str, str | None],
    ) -> HistoryEntry | None:
        spec = KINDS[kind]
        props = {k: str(v) for k, v in (record.get("properties") or {}).items() if v}
        occurred = _timestamp(props.get("hs_timestamp") or str(record.get("createdAt") or ""))
        if occurred is None:
            log.info("hubspot_history_undated kind=%s id=%s", kind, where.object_id)
            return None
        body = html_to_text(props.get(spec.body) or props.get(spec.alt_body or "") or "")
        title = props.get(spec.title) if spec.title else None
        title = " ".join((title or _first_line(body) or KIND_LABELS[kind]).split())
        owner_id = props.get("hubspot_owner_id")
        return HistoryEntry(
            kind=kind,
            source_id=f"{kind}:{where.object_id}",
            occurred_at=occurred,
            author=self._owner_name(owner_id, owners) if owner_id else None,
            title=_cap(title, TITLE_CAP),
            body=_cap(body, query.body_cap),
            url=self._record_url(where),
        )

    def _owner_name(self, owner_id: str, owners: dict[str, str | None]) -> str | None:
        """'First Last' (or the email) of a HubSpot owner, read once per owner per deal."""
        if owner_id in owners:
            return owners[owner_id]
        name: str | None = None
        if _OBJECT_ID.fullmatch(owner_id):
            try:
                owner = self._get(f"/crm/v3/owners/{owner_id}", None)
            except NotFound:
                owner = {}
            full = " ".join(str(owner.get(k) or "") for k in ("firstName", "lastName")).strip()
            name = full or (str(owner["email"]) if owner.get("email") else None)
        owners[owner_id] = name
        return name

    def _record_url(self, where: _Found) -> str | None:
        """The HubSpot record whose activity timeline shows the engagement."""
        if self._portal_id is None:
            return None
        type_id = PARENT_TYPE_IDS[where.parent_type]
        return f"{self._app_host}/contacts/{self._portal_id}/record/{type_id}/{where.parent_id}"

    # --- http -----------------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        self._window.wait()
        body = self._http.request("GET", path, params=params).json()
        return body if isinstance(body, dict) else {}

    def _request(self, method: str, path: str, *, json: Any) -> dict[str, Any]:
        self._window.wait()
        body = self._http.request(method, path, json=json, safe_to_repeat=True).json()
        return body if isinstance(body, dict) else {}


# --- text ---------------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    _BREAKS = frozenset({"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(value: str) -> str:
    """Readable plain text of an HTML (or plain) body: tags dropped, entities decoded."""
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0] if text else ""


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _timestamp(value: str) -> datetime | None:
    """An aware UTC datetime from HubSpot's ISO-8601 text or epoch milliseconds."""
    if not value:
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _associated(record: Mapping[str, Any], kind: str) -> list[str]:
    group = (record.get("associations") or {}).get(kind) or {}
    ids = [str(item["id"]) for item in group.get("results") or [] if item.get("id") is not None]
    return [i for i in dict.fromkeys(ids) if _OBJECT_ID.fullmatch(i)]
