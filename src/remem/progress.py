"""Progress of long work (migrate, reindex, export, import) on stderr: on a terminal, one line
redrawn in place, with a bar when the line counts ``N / M``; elsewhere (a log, CI) a line a
report, so nothing is lost to carriage returns."""

from __future__ import annotations

import atexit
import re
import sys
from typing import TextIO

_COUNT = re.compile(r"([\d,]+) / ([\d,]+)")
WIDTH = 24


def bar(line: str) -> str:
    """``[#####-----]  45%`` for a line that counts ``N / M``, else ""."""
    found = _COUNT.search(line)
    if found is None:
        return ""
    done, total = (int(g.replace(",", "")) for g in found.groups())
    share = done / total if total else 1.0
    filled = round(WIDTH * min(share, 1.0))
    return f"[{'#' * filled}{'-' * (WIDTH - filled)}] {share:4.0%} "


class Progress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._open = False  # a redrawn line is on the terminal: end it before anything else

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr  # looked up late: tests and tools swap sys.stderr

    def __call__(self, line: str) -> None:
        if not self.stream.isatty():
            print(line, file=self.stream, flush=True)
            return
        self.stream.write(f"\r\x1b[K{bar(line)}{line}")
        self.stream.flush()
        self._open = True

    def end(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


report = Progress()
atexit.register(report.end)
