"""A client for OpenAI-compatible chat completions (OpenAI, Azure OpenAI's /openai/v1, Ollama,
vLLM, LM Studio, llama.cpp server): only ``POST {base_url}/chat/completions`` is used, through
the official ``openai`` SDK.

- **Retries**: the SDK's own. 408/409/429/5xx answers and failed connections are retried
  ``max_retries`` times, after the server's ``Retry-After`` when it sends one, else with
  exponential backoff from 0.5 s (tests/llm/test_client.py measures the wait); the SDK logs
  each at INFO (``openai._base_client``). Running out of retries, a timeout or any other
  refusal raises :class:`LLMUnavailable` with the server's message; a task retried for it logs
  a WARNING without a traceback (``tasks.jobs.EXPECTED_RETRIES``).
- **Structured output**: :meth:`LLMClient.complete_json` asks for JSON matching a pydantic model,
  by ``response_format`` json_schema. Many local servers refuse that with a 400 naming
  ``response_format``; then it asks again with ``{"type": "json_object"}``, then with no
  ``response_format`` at all (the schema is in the prompt in every mode), and remembers the mode
  that worked. The answer is parsed tolerantly (code fences, prose around the JSON) and
  validated; an invalid answer is sent back once with the validation error, asking for
  corrected JSON; still invalid raises :class:`LLMOutputInvalid`, so the caller keeps its work
  to retry later.
- **Usage**: ``usage`` counts the requests answered and their prompt and completion tokens (as
  the server reports them), for benchmarks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import openai
from opentelemetry.trace import Span, SpanKind
from pydantic import BaseModel, ValidationError

from remem import tracing
from remem.errors import LLMOutputInvalid, LLMUnavailable
from remem.metrics import LLM_DURATION, LLM_TOKENS, counted_call, timed

T = TypeVar("T", bound=BaseModel)
Mode = Literal["json_schema", "json_object", "text"]
# What a call is for, a label of its metrics: a short fixed list, never the caller's text.
Purpose = Literal["extraction", "dedup", "summary", "query", "other"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "text")
NO_KEY = "not-needed"  # local servers take any key; the SDK insists on one


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def extract_json(text: str) -> Any:
    """The first JSON object or array in ``text``: inside code fences or surrounded by prose,
    as models write it. Raises ValueError when there is none."""
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                continue
            return value
    raise ValueError("the answer holds no JSON object")


def _refuses(exc: openai.APIStatusError, *names: str) -> bool:
    """A 400 (or 422) naming one of ``names``: the server does not take that parameter."""
    text = f"{exc.message} {exc.body}".lower()
    return exc.status_code in (400, 422) and any(name in text for name in names)


def _refuses_response_format(exc: openai.APIStatusError) -> bool:
    """A 400 naming response_format (or json_schema): the server does not do that mode."""
    return _refuses(exc, "response_format", "json_schema", "response format")


def _answered(span: Span, answer: Any) -> None:
    """The answer's model, finish reasons and token usage on its span (GenAI conventions)."""
    if answer.model:
        span.set_attribute("gen_ai.response.model", answer.model)
    reasons = [c.finish_reason for c in answer.choices or () if c.finish_reason]
    if reasons:
        span.set_attribute("gen_ai.response.finish_reasons", reasons)
    if answer.usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", answer.usage.prompt_tokens or 0)
        span.set_attribute("gen_ai.usage.output_tokens", answer.usage.completion_tokens or 0)


def _schema_prompt(schema: type[BaseModel]) -> str:
    return "Answer with one JSON object only, no prose, matching this JSON schema:\n" + json.dumps(
        schema.model_json_schema(), separators=(",", ":")
    )


class LLMClient:
    """``model`` at ``base_url`` (ending before ``/chat/completions``, e.g. ``.../v1``)."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.usage = Usage()
        self.mode: Mode = "json_schema"  # lowered for good when the server refuses it
        # 0 for repeatable answers; dropped for good when refused (OpenAI's reasoning models
        # accept only their default)
        self.temperature: float | None = 0.0
        self._span_attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",  # the API spoken, whoever serves it
            "gen_ai.system": "openai",  # the older conventions' name of the same
            "gen_ai.request.model": model,
            "server.address": urlsplit(base_url).hostname or "",
        }
        self._sdk = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or NO_KEY,
            timeout=timeout,
            max_retries=max_retries,
        )

    async def aclose(self) -> None:
        await self._sdk.close()

    async def problem(self) -> str | None:
        """Why this LLM cannot be used (unreachable, or its key refused), or None. Asks for
        the model list: any answer but 401/403 means the server is there."""
        try:
            await self._sdk.with_options(max_retries=0).models.list()
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            return f"{self.base_url} refused the API key ({exc.status_code})"
        except openai.APIStatusError:
            return None  # e.g. a server without /models: it answered
        except openai.APIConnectionError as exc:  # timeouts included
            return f"{self.base_url} is unreachable ({exc.__class__.__name__})"
        return None

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        response_format: dict[str, Any] | None = None,
        purpose: Purpose = "other",
    ) -> str:
        """The text of the model's answer to ``messages`` (asked for ``purpose``, which labels
        the call's metrics), in a ``chat {model}`` span with traces on (GenAI conventions:
        model, token usage, no message text)."""
        if not tracing.on():
            return await self._complete(messages, response_format, purpose, None)
        asked = {**self._span_attributes, "remem.llm.purpose": purpose}
        with tracing.TRACER.start_as_current_span(
            f"chat {self.model}", kind=SpanKind.CLIENT, attributes=asked
        ) as span:
            try:
                return await self._complete(messages, response_format, purpose, span)
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                raise

    async def _complete(
        self,
        messages: list[dict[str, Any]],
        response_format: dict[str, Any] | None,
        purpose: Purpose,
        span: Span | None,
    ) -> str:
        extra: dict[str, Any] = (
            {} if response_format is None else {"response_format": response_format}
        )
        if self.temperature is not None:
            extra["temperature"] = self.temperature
        try:
            with timed(LLM_DURATION, self.model, purpose), counted_call(self.model, purpose):
                answer = await self._sdk.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    **extra,
                )
        except openai.APIStatusError:
            raise  # the caller tells a refused response_format from other refusals
        except openai.APITimeoutError as exc:
            raise LLMUnavailable(f"the LLM at {self.base_url} timed out ({exc})") from None
        except openai.APIConnectionError as exc:
            raise LLMUnavailable(f"the LLM at {self.base_url} is unreachable ({exc})") from None
        except openai.OpenAIError as exc:  # an answer the SDK cannot read
            raise LLMUnavailable(f"the LLM at {self.base_url} failed: {exc}") from None
        self.usage.calls += 1
        if answer.usage is not None:
            self.usage.prompt_tokens += answer.usage.prompt_tokens or 0
            self.usage.completion_tokens += answer.usage.completion_tokens or 0
            tokens = LLM_TOKENS.labels(self.model, purpose, "prompt")
            tokens.inc(answer.usage.prompt_tokens or 0)
            tokens = LLM_TOKENS.labels(self.model, purpose, "completion")
            tokens.inc(answer.usage.completion_tokens or 0)
        if span is not None:
            _answered(span, answer)
        if not answer.choices:
            raise LLMUnavailable(f"the LLM at {self.base_url} answered with no choice")
        return answer.choices[0].message.content or ""

    async def _complete_in_mode(
        self, messages: list[dict[str, Any]], schema: type[T], purpose: Purpose
    ) -> str:
        """Ask in the best mode the server takes, stepping down when it refuses one."""
        while True:
            fmt: dict[str, Any] | None = None
            if self.mode == "json_schema":
                fmt = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": schema.__name__,
                        "schema": schema.model_json_schema(),
                        "strict": False,
                    },
                }
            elif self.mode == "json_object":
                fmt = {"type": "json_object"}
            try:
                return await self.complete(messages, response_format=fmt, purpose=purpose)
            except openai.APIStatusError as exc:
                if self.temperature is not None and _refuses(exc, "temperature"):
                    self.temperature = None
                    continue
                if fmt is not None and _refuses_response_format(exc):
                    self.mode = MODES[MODES.index(self.mode) + 1]
                    continue
                raise LLMUnavailable(
                    f"the LLM at {self.base_url} refused the request ({exc.status_code}: "
                    f"{exc.message})"
                ) from None

    async def complete_json(
        self, messages: list[dict[str, Any]], schema: type[T], *, purpose: Purpose = "other"
    ) -> T:
        """The model's answer to ``messages`` as a ``schema`` instance (one repair retry)."""
        asked = [{"role": "system", "content": _schema_prompt(schema)}, *messages]
        text = await self._complete_in_mode(asked, schema, purpose)
        try:
            return schema.model_validate(extract_json(text))
        except (ValueError, ValidationError) as exc:
            error = str(exc)
        repair = [
            *asked,
            {"role": "assistant", "content": text},
            {
                "role": "user",
                "content": "That answer is not valid: "
                + error
                + "\nAnswer again with the corrected JSON object only.",
            },
        ]
        text = await self._complete_in_mode(repair, schema, purpose)
        try:
            return schema.model_validate(extract_json(text))
        except (ValueError, ValidationError) as exc:
            raise LLMOutputInvalid(
                f"the LLM answered twice with output that is not a valid {schema.__name__} "
                f"({str(exc).splitlines()[0]})",
                answer=text,
                reason=str(exc),
            ) from None
