"""How every remem process logs: one line a record on stderr, set up before anything else can.

A worker process of ``remem serve`` sets it up before it builds its app (``remem.app``)."""

from __future__ import annotations

import logging
import sys


def configure(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
