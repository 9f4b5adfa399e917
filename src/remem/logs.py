"""How every remem process logs: one line a record on stderr, set up before anything else can.

A worker process of ``remem serve`` sets it up before it builds its app (``remem.app``).

Two formats (``REMEM_LOG_FORMAT``): ``text``, ``LEVEL logger: message``, and ``json``, one JSON
object a line (``JsonFormatter``: ``time``, ``level``, ``logger``, ``message``, and when they
apply ``request_id``, ``trace_id``, ``span_id``, ``error_id``, ``exception``). A record logged
while an HTTP request is served carries that request's id (``request_id``, set by
``remem.api.requestid.RequestId``): the JSON field, or `` [id]`` after a text line's message.

A task that fails and will be retried is logged by Docket (``docket.dependencies``) at ERROR
with its traceback, whatever the failure. Most are expected and pass: summarisation waiting for
extraction, the LLM or the embedding provider briefly unavailable. ``quiet_expected_retries``
logs those at the level the task list gives (``tasks.jobs``), in one line without the
traceback; an unforeseen exception keeps its ERROR and traceback, and a task that runs out of
retries is still logged at ERROR, with the traceback, by Docket's worker (``docket.worker``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

RETRIES_LOGGER = "docket.dependencies"  # where Docket's Retry logs each failed attempt
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
# Record attributes the JSON line carries when set, in this order (``extra=`` sets them too).
CONTEXT_FIELDS = ("request_id", "trace_id", "span_id", "error_id")

# The id of the HTTP request being served (None outside one): set and reset around each
# request by the API's RequestId middleware, read by ``RequestContext`` for every record.
request_id: ContextVar[str | None] = ContextVar("remem_request_id", default=None)


def _current_span() -> tuple[str, str] | None:
    """The current OpenTelemetry span as (trace id, span id) in hex, or None: no span, an
    invalid one, or no ``opentelemetry`` installed (it is optional)."""
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - installed with pydocket today
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


class RequestContext(logging.Filter):
    """Stamps each record it sees with the request id and the OpenTelemetry trace and span
    ids of the code that logs it, where there are some. On the handler, so every record it
    writes gets them, whichever logger it came from."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        if getattr(record, "trace_id", None) is None:
            span = _current_span()
            record.trace_id, record.span_id = span if span else (None, None)
        return True


class TextFormatter(logging.Formatter):
    """``LEVEL logger: message``, then `` [request id]`` in a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [{rid}]" if rid else line


class JsonFormatter(logging.Formatter):
    """One JSON object a record, on one line (newlines in the message and traceback are
    escaped): ``time`` (ISO 8601, UTC, milliseconds), ``level``, ``logger``, ``message``, the
    ``CONTEXT_FIELDS`` that are set, and ``exception`` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def handler(log_format: Literal["text", "json"]) -> logging.Handler:
    """A stderr handler writing ``log_format``, with the request context on every record."""
    out = logging.StreamHandler(sys.stderr)
    out.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    out.addFilter(RequestContext())
    out.set_name("remem")
    return out


def configure(level: str, log_format: Literal["text", "json"]) -> None:
    """Log at ``level`` and above on stderr in ``log_format``. As ``logging.basicConfig``, it
    leaves alone a process whose logging someone else set up (a test run's capture); called
    again, it replaces its own handler."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == "remem"]
    if len(ours) != len(root.handlers):
        return
    for old in ours:
        root.removeHandler(old)
    root.addHandler(handler(log_format))
    root.setLevel(level.upper())
    logging.captureWarnings(log_format == "json")  # Python's warnings as JSON lines too


class ExpectedRetries(logging.Filter):
    """Rewrites Docket's record of a failed attempt that will be retried, when its exception
    is of a type in ``levels``: that type's level, the exception in one line, no traceback."""

    def __init__(self, levels: Mapping[type[BaseException], int]) -> None:
        super().__init__()
        self.levels = dict(levels)

    def level_of(self, exc: BaseException) -> int | None:
        for kind, level in self.levels.items():
            if isinstance(exc, kind):
                return level
        return None

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        level = None if exc is None else self.level_of(exc)
        if exc is None or level is None or record.levelno != logging.ERROR:
            return True
        record.msg = f"{record.msg} will be retried: %s: %s"
        record.args = (*(record.args or ()), type(exc).__name__, exc)
        record.levelno, record.levelname = level, logging.getLevelName(level)
        record.exc_info, record.exc_text = None, None
        return logging.getLogger(record.name).isEnabledFor(level)


def quiet_expected_retries(levels: Mapping[type[BaseException], int]) -> None:
    """Install ``ExpectedRetries`` on Docket's retry logger, once per process (later calls
    replace the levels)."""
    logger = logging.getLogger(RETRIES_LOGGER)
    for old in [f for f in logger.filters if isinstance(f, ExpectedRetries)]:
        logger.removeFilter(old)
    logger.addFilter(ExpectedRetries(levels))
