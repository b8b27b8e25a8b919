"""A local stand-in for an OpenAI-compatible chat-completions API (`POST /v1/chat/completions`).

It checks the request shape (`model`, `messages` of role/content strings), records it, and
answers with `choices[0].message.content` from `answer(prompt)`; or fails, or answers late, as a
test asks. Nothing here reaches a real provider.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.stub_server import Recorded, Reply, StubServer

PATH = "/v1/chat/completions"
API_KEY = "sk-test-drafting"


def _empty(prompt: str) -> str:
    return "{}"


@dataclass
class FakeChat:
    answer: Callable[[str], str] = _empty  # the user prompt -> the assistant's content
    status: int = 200
    delay: float = 0.0
    prompts: list[str] = field(default_factory=list)
    server: StubServer | None = None

    def serving(self) -> StubServer:
        self.server = StubServer(self._handle)
        return self.server

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return self.server.url + "/v1"

    def _handle(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != PATH:
            return Reply(404, {"error": {"message": f"no route {request.path}"}})
        if request.header("Authorization") != f"Bearer {API_KEY}":
            return Reply(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
        body = request.json
        assert isinstance(body.get("model"), str) and body["model"]
        messages = body.get("messages")
        assert isinstance(messages, list) and messages
        for message in messages:
            assert message["role"] in ("system", "user", "assistant")
            assert isinstance(message["content"], str)
        prompt = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        self.prompts.append(prompt)
        if self.status != 200:
            return Reply(self.status, {"error": {"message": "upstream failure"}}, delay=self.delay)
        completion = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1764561600,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.answer(prompt)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        return Reply(200, completion, delay=self.delay)


def json_answer(fields: dict[str, Any]) -> Callable[[str], str]:
    """An `answer` that returns these fields as the JSON object the drafter asks for."""
    return lambda prompt: json.dumps(fields)
