"""The chat-completions drafter against a local stand-in: request shape, checked citations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from integrations.drafting import (
    ChatCompletionsDrafter,
    DraftingFailed,
    build_drafter,
    cited_sentences,
)
from integrations.ports import HistoryEntry
from tests.support.fake_chat import API_KEY, FakeChat, json_answer

ENTRIES = [
    HistoryEntry(
        kind="call",
        source_id="call:1",
        occurred_at=datetime(2026, 11, 10, 15, tzinfo=UTC),
        author="Kim",
        title="Scoping call",
        body="Reporting must take under two hours.",
    ),
    HistoryEntry(
        kind="note",
        source_id="note:2",
        occurred_at=datetime(2026, 11, 3, 9, tzinfo=UTC),
        author="Sam",
        title="Budget approved",
        body="Budget approved by the CFO.",
    ),
]
PROMPTS = {"why_they_bought": "Why they bought.", "risks": "Risks."}


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    fake = FakeChat()
    with fake.serving():
        yield fake


def drafter(chat: FakeChat, timeout: float = 5.0) -> ChatCompletionsDrafter:
    return ChatCompletionsDrafter(chat.base_url, "house-model", API_KEY, timeout=timeout)


def test_drafter_keeps_only_sentences_citing_known_entries(chat: FakeChat) -> None:
    chat.answer = json_answer(
        {
            "why_they_bought": "Reporting is slow [1]. They love us [7]. Budget is there [2].",
            "risks": "None mentioned.",
            "unasked": "Ignored [1].",
        }
    )

    drafts = drafter(chat).draft(ENTRIES, PROMPTS)

    assert list(drafts) == ["why_they_bought"]
    assert drafts["why_they_bought"].text == "Reporting is slow [1]. Budget is there [2]."
    assert drafts["why_they_bought"].cited == (1, 2)
    [prompt] = chat.prompts
    assert "[1] call, 2026-11-10: Scoping call" in prompt and "Kim" not in prompt


def test_drafter_accepts_a_fenced_json_answer(chat: FakeChat) -> None:
    chat.answer = lambda prompt: '```json\n{"risks": "CFO could change [2]."}\n```'

    drafts = drafter(chat).draft(ENTRIES, PROMPTS)

    assert drafts["risks"].text == "CFO could change [2]."


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ({"answer": lambda prompt: "Sure! Here are drafts."}, "not the JSON asked for"),
        ({"status": 500}, "answered HTTP 500"),
        ({"status": 429}, "busy"),
        ({"delay": 1.0}, "did not answer in time"),
    ],
)
def test_drafter_failures_raise_a_reason_for_the_form(
    chat: FakeChat, setup: dict[str, object], reason: str
) -> None:
    for key, value in setup.items():
        setattr(chat, key, value)

    with pytest.raises(DraftingFailed, match=reason):
        drafter(chat, timeout=0.2).draft(ENTRIES, PROMPTS)


def test_drafter_with_a_wrong_key_fails_without_echoing_the_provider(chat: FakeChat) -> None:
    wrong = ChatCompletionsDrafter(chat.base_url, "m", "sk-wrong", timeout=2)

    with pytest.raises(DraftingFailed, match="answered HTTP 401"):
        wrong.draft(ENTRIES, PROMPTS)


def test_drafter_without_history_asks_nothing(chat: FakeChat) -> None:
    assert drafter(chat).draft([], PROMPTS) == {}
    assert chat.prompts == []


def test_cited_sentences_splits_after_citations_and_drops_uncited() -> None:
    found = cited_sentences("A [1] B is true [2]\nC. D [3].", entry_count=2)

    assert found is not None
    assert found.text == "A [1] B is true [2]"
    assert cited_sentences("Nothing cited here.", entry_count=2) is None


def test_build_drafter_needs_the_key_in_the_environment() -> None:
    with pytest.raises(ValueError, match="DRAFTING_API_KEY"):
        build_drafter("http://127.0.0.1:9/v1", "m", "DRAFTING_API_KEY", 5, {})
