"""The fenced blocks of a Markdown page, the commands of a shell block, and the comparison of a
block's printed output with the output a page shows.

A block may carry a name in an HTML comment on the line right above its fence
(``<!-- mcp-stdio -->``): the name says which check a ``json`` or ``text`` block gets, and
``output`` says the block shows what the block before it prints."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\S*)\s*$")
MARKER = re.compile(r"^<!-- ([\w-]+) -->$")

# What may differ between a run and the page: ULIDs, 12-hex token ids, ISO times.
VOLATILE = [
    ("ulid", re.compile(r"(?<![0-9A-Z])[0-9A-HJKMNP-TV-Z]{26}(?![0-9A-Z])")),
    ("id", re.compile(r"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])")),
    ("time", re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?")),
]


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    lang: str
    marker: str | None
    text: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of the page, in order."""
    lines = path.read_text().split("\n")
    found: list[Block] = []
    at = 0
    while at < len(lines):
        opening = FENCE.match(lines[at])
        if opening is None:
            at += 1
            continue
        end = lines.index("```", at + 1)
        above = MARKER.match(lines[at - 1]) if at else None
        body = "\n".join(lines[at + 1 : end]) + "\n"
        marker = above.group(1) if above else None
        found.append(Block(path.name, at + 1, opening.group(1), marker, body))
        at = end + 1
    return found


def commands(script: str) -> list[str]:
    """The commands of a shell block: comments and blank lines dropped, a line ending in a
    backslash or inside an open quote joined with the next, a trailing comment cut off."""
    out: list[str] = []
    pending = ""
    for line in script.split("\n"):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\") or not _complete(pending):
            continue
        out.append(_without_comment(pending.strip()))
        pending = ""
    assert not pending, f"unfinished command: {pending!r}"
    return out


def _complete(command: str) -> bool:
    try:
        shlex.split(command, comments=True)
    except ValueError:
        return False
    return True


def _without_comment(command: str) -> str:
    """The command without a trailing comment: a `` #`` with every quote before it closed."""
    cut = command.find(" #")
    while cut != -1:
        if _complete(command[:cut]):
            return command[:cut].rstrip()
        cut = command.find(" #", cut + 1)
    return command


def normalise(line: str) -> tuple[str, list[tuple[str, str]]]:
    """The line with its volatile parts replaced by their kind, and those parts in order."""
    parts: list[tuple[int, str, str]] = []
    for kind, pattern in VOLATILE:
        parts += [(m.start(), kind, m.group()) for m in pattern.finditer(line)]
    parts.sort()
    shape = line
    for kind, pattern in VOLATILE:
        shape = pattern.sub(f"<{kind}>", shape)
    return " ".join(shape.split()), [(kind, value) for _, kind, value in parts]


def match_output(shown: str, printed: str) -> dict[str, str]:
    """Check that ``printed`` is what the page shows, line for line: the same after volatile
    parts are replaced by their kind and runs of spaces by one, or, for a shown line ending in
    ``...``, starting the same. Returns each volatile value the page shows mapped to the one
    printed in its place, so later commands of the page can use the real one."""
    want, got = shown.rstrip("\n").split("\n"), printed.rstrip("\n").split("\n")
    assert len(want) == len(got), f"the page shows {len(want)} lines, the run printed:\n{printed}"
    bound: dict[str, str] = {}
    for expected, actual in zip(want, got, strict=True):
        (shape, values), (real, found) = normalise(expected), normalise(actual)
        prefix = shape.endswith("...")
        same = real.startswith(shape[:-3]) if prefix else real == shape
        assert same, f"the page shows\n  {expected}\nthe run printed\n  {actual}"
        bound.update((value, other) for (_, value), (_, other) in zip(values, found, strict=False))
    return bound
