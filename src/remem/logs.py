"""How every remem process logs: one line a record on stderr, set up before anything else can.

A worker process of ``remem serve`` sets it up before it builds its app (``remem.app``).

A task that fails and will be retried is logged by Docket (``docket.dependencies``) at ERROR
with its traceback, whatever the failure. Most are expected and pass: summarisation waiting for
extraction, the LLM or the embedding provider briefly unavailable. ``quiet_expected_retries``
logs those at the level the task list gives (``tasks.jobs``), in one line without the
traceback; an unforeseen exception keeps its ERROR and traceback, and a task that runs out of
retries is still logged at ERROR, with the traceback, by Docket's worker (``docket.worker``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping

RETRIES_LOGGER = "docket.dependencies"  # where Docket's Retry logs each failed attempt


def configure(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


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
