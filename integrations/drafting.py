"""Drafts of the form's essay answers from the deal history, by the organisation's own model.

Speaks the OpenAI-compatible `POST {base_url}/chat/completions` (request `model`, `messages`;
answer in `choices[0].message.content`). The request carries only the numbered history entries
(kind, date, title, body) and the field prompts: no names of our users, no deal amounts, no ids.

The model is asked for a JSON object of field -> text where every sentence ends with the marker
of the entry it came from, like `[2]`. Its answer is checked, not trusted: sentences without a
marker, or citing an entry that does not exist, are dropped.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from integrations.http import VendorHttp
from integrations.ports import HistoryEntry, VendorError

log = logging.getLogger(__name__)

VENDOR = "drafting"
DRAFT_CAP = 1500  # characters per drafted answer; the form's fields take more, people read less
ENTRY_BODY_CAP = 1500  # characters of each entry's body sent to the model

_MARKER = re.compile(r"\[(\d{1,3})\]")
# Sentence ends: after . ! ? unless a citation follows; after a citation when a new sentence
# starts; and at line breaks.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?!\[)|(?<=\])\s+(?=[A-Z\"'(])|\n+")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)

SYSTEM_PROMPT = (
    "You draft parts of a sales-to-delivery handoff from a deal's CRM history. Use only facts "
    "stated in the numbered entries. End every sentence with the number of the entry it comes "
    "from in square brackets, like [2]. If the entries say nothing for a field, give an empty "
    "string for it. Answer with one JSON object whose keys are the field names given."
)


class DraftingFailed(Exception):
    """The provider could not give usable drafts; the message is safe to show and to log."""


@dataclass(frozen=True)
class FieldDraft:
    text: str  # sentences, each ending with its citation marker(s)
    cited: tuple[int, ...]  # 1-based numbers of the entries it cites


class Drafter(Protocol):
    def draft(
        self, entries: Sequence[HistoryEntry], prompts: Mapping[str, str]
    ) -> dict[str, FieldDraft]:
        """Drafts by field name (fields without anything cited are left out)."""
        ...


class ChatCompletionsDrafter:
    """The `Drafter` over an OpenAI-compatible chat-completions endpoint: one try, bounded."""

    def __init__(self, base_url: str, model: str, api_key: str, *, timeout: float) -> None:
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"}
        self._http = VendorHttp(
            VENDOR,
            base_url,
            lambda: headers,
            timeout=(min(5.0, timeout), timeout),
            max_attempts=1,  # the form is waiting on nobody, but a slow provider is not retried
        )

    def draft(
        self, entries: Sequence[HistoryEntry], prompts: Mapping[str, str]
    ) -> dict[str, FieldDraft]:
        if not entries:
            return {}
        body = {
            "model": self.model,
            "temperature": 0.2,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user_prompt(entries, prompts)},
            ],
        }
        try:
            response = self._http.request(
                "POST", "/chat/completions", json=body, safe_to_repeat=True
            )
            content = response.json()["choices"][0]["message"]["content"]
        except VendorError as exc:
            raise DraftingFailed(_reason(exc)) from exc
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise DraftingFailed("the provider's answer was not a chat completion") from exc
        drafts = parse_drafts(str(content or ""), prompts, len(entries))
        log.info(
            "drafting_done entries=%d fields=%d chars=%d",
            len(entries),
            len(drafts),
            sum(len(d.text) for d in drafts.values()),
        )
        return drafts


def user_prompt(entries: Sequence[HistoryEntry], prompts: Mapping[str, str]) -> str:
    """The numbered history then the fields to draft; numbers match the stored order."""
    lines = ["CRM history, newest first:"]
    for number, entry in enumerate(entries, start=1):
        when = entry.occurred_at.date().isoformat()
        body = entry.body[:ENTRY_BODY_CAP]
        lines.append(f"[{number}] {entry.kind}, {when}: {entry.title}\n{body}".rstrip())
    lines.append("\nFields to draft (JSON keys and what each should say):")
    lines += [f"- {name}: {prompt}" for name, prompt in prompts.items()]
    return "\n".join(lines)


def parse_drafts(
    content: str, prompts: Mapping[str, str], entry_count: int
) -> dict[str, FieldDraft]:
    """The model's JSON answer, each field reduced to sentences that cite known entries."""
    text = _FENCE.sub("", content.strip())
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise DraftingFailed("the provider's answer was not the JSON asked for") from exc
    if not isinstance(raw, dict):
        raise DraftingFailed("the provider's answer was not a JSON object")
    drafts: dict[str, FieldDraft] = {}
    for name in prompts:
        value = raw.get(name)
        if isinstance(value, str):
            checked = cited_sentences(value, entry_count)
            if checked is not None:
                drafts[name] = checked
    return drafts


def cited_sentences(text: str, entry_count: int) -> FieldDraft | None:
    """Only the sentences whose every marker names an entry 1..entry_count; None if none are."""
    kept: list[str] = []
    cited: list[int] = []
    length = 0
    for sentence in _SENTENCE_BREAK.split(text):
        sentence = " ".join(sentence.split())
        numbers = [int(n) for n in _MARKER.findall(sentence)]
        if not numbers or any(n < 1 or n > entry_count for n in numbers):
            continue
        if length + len(sentence) + 1 > DRAFT_CAP:
            break
        kept.append(sentence)
        length += len(sentence) + 1
        cited += [n for n in numbers if n not in cited]
    if not kept:
        return None
    return FieldDraft(text=" ".join(kept), cited=tuple(cited))


def build_drafter(
    base_url: str, model: str, api_key_env: str, timeout: float, env: Mapping[str, str]
) -> ChatCompletionsDrafter:
    """The configured drafter; the key comes from the environment, never the organisation file."""
    key = env.get(api_key_env)
    if not key:
        raise ValueError(f"drafting: environment variable {api_key_env} is not set")
    return ChatCompletionsDrafter(base_url, model, key, timeout=timeout)


def _reason(exc: VendorError) -> str:
    """Why drafting failed, in words for the form (no provider text: it may echo the input)."""
    if exc.status == 429:
        return "the language model was busy (rate limited)"
    if "timed out" in exc.message:
        return "the language model did not answer in time"
    if exc.status is not None:
        return f"the language model answered HTTP {exc.status}"
    return "the language model could not be reached"
