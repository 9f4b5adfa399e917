"""A small OpenAI-compatible chat completions server for tests, over real HTTP.

::

    async with llm_server() as llm:            # served on a free loopback port
        settings = settings.model_copy(update={"llm_base_url": llm.base_url,
                                               "llm_model": "test-model"})
        llm.script(Answer.json({"verdicts": [...]}))   # answers, in order, then the default
        llm.respond = lambda call: Answer.json(...)    # or a function of the request
        ...
        llm.calls[0].messages, llm.calls[0].response_format, llm.calls[0].model

- Every request is recorded in ``calls`` (``Call``: model, messages, response_format, body),
  answered ones and refused ones alike.
- Scripted answers (``script``) are served first, in order; then ``respond(call)`` if set;
  else the default: a JSON instance of the json_schema asked for (the smallest valid one:
  empty strings and lists, zeros, each enum's first value), or ``{}``.
- ``Answer.json(obj)`` / ``Answer.text(str)``: a 200 with that message content;
  ``Answer.error(status, retry_after=None, message=...)``: an OpenAI-shaped error, with
  ``Retry-After`` when given (429 and 500 are what the SDK retries).
- ``refuse_json_schema = True``: a request with ``response_format`` json_schema is answered 400
  naming response_format (as some llama.cpp and LM Studio versions do); ``refuse_json_object``
  likewise for ``{"type": "json_object"}``; ``refuse_temperature``: a request with a
  temperature is answered 400 naming it (as OpenAI's reasoning models do).
- usage: prompt_tokens is the number of words in the messages, completion_tokens in the answer.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.serving import served


@dataclass
class Call:
    model: str
    messages: list[dict[str, Any]]
    response_format: dict[str, Any] | None
    body: dict[str, Any]
    at: float  # time.monotonic() when it arrived

    @property
    def schema(self) -> dict[str, Any] | None:
        fmt = self.response_format or {}
        if fmt.get("type") != "json_schema":
            return None
        schema: dict[str, Any] = fmt["json_schema"]["schema"]
        return schema

    @property
    def user_json(self) -> Any:
        """The last user message parsed as JSON (remem's prompts send their input so)."""
        last = [m for m in self.messages if m["role"] == "user"][-1]
        return json.loads(last["content"])


@dataclass
class Answer:
    status: int = 200
    content: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    message: str = ""

    @classmethod
    def json(cls, value: Any) -> Answer:
        return cls(content=json.dumps(value))

    @classmethod
    def text(cls, content: str) -> Answer:
        return cls(content=content)

    @classmethod
    def error(
        cls, status: int, *, retry_after: float | None = None, message: str = "scripted error"
    ) -> Answer:
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        return cls(status=status, headers=headers, message=message)


def smallest(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """The smallest instance of a pydantic-made JSON schema."""
    root = root or schema
    if "$ref" in schema:
        return smallest(root["$defs"][schema["$ref"].split("/")[-1]], root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return smallest(schema[key][0], root)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: smallest(props[k], root) for k in schema.get("required", [])}
    return {"array": [], "string": "", "integer": 0, "number": 0, "boolean": False}.get(str(kind))


class FakeLLM:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.scripted: deque[Answer] = deque()
        self.respond: Callable[[Call], Answer] | None = None
        self.refuse_json_schema = False
        self.refuse_json_object = False
        self.refuse_temperature = False
        self.base_url = ""  # set once served: ends in /v1, as OpenAI's

    def script(self, *answers: Answer) -> None:
        self.scripted.extend(answers)

    def answer(self, call: Call) -> Answer:
        kind = (call.response_format or {}).get("type")
        if self.refuse_temperature and "temperature" in call.body:
            return Answer.error(400, message="Unsupported parameter: 'temperature'")
        if (kind == "json_schema" and self.refuse_json_schema) or (
            kind == "json_object" and self.refuse_json_object
        ):
            return Answer.error(400, message=f"response_format type {kind} is not supported")
        if self.scripted:
            return self.scripted.popleft()
        if self.respond is not None:
            return self.respond(call)
        return Answer.json(smallest(call.schema) if call.schema else {})

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def complete(request: Request) -> JSONResponse:
            body = await request.json()
            call = Call(
                body.get("model", ""),
                body.get("messages", []),
                body.get("response_format"),
                body,
                time.monotonic(),
            )
            self.calls.append(call)
            answer = self.answer(call)
            if answer.status != 200:
                error = {"message": answer.message, "type": "scripted", "code": answer.status}
                return JSONResponse(
                    {"error": error}, status_code=answer.status, headers=answer.headers
                )
            prompt = sum(len(str(m.get("content", "")).split()) for m in call.messages)
            return JSONResponse(
                {
                    "id": f"chatcmpl-{len(self.calls)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": call.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer.content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": len(answer.content.split()),
                        "total_tokens": prompt + len(answer.content.split()),
                    },
                },
                headers=answer.headers,
            )

        return app


@asynccontextmanager
async def llm_server() -> AsyncIterator[FakeLLM]:
    llm = FakeLLM()
    async with served(llm.app()) as url:
        llm.base_url = f"{url}/v1"
        yield llm
