"""How every remem process logs: one line a record on stderr, set up before anything else can.

Set up first on purpose: the MCP SDK's server installs a rich handler on the root logger when
none is there yet (``logging.basicConfig``), which wraps long lines over several; a worker
process of ``remem serve`` builds its app before any other logging setup."""

from __future__ import annotations

import logging
import sys


def configure(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
