"""Progress lines: redrawn in place with a bar on a terminal, one a line elsewhere."""

from __future__ import annotations

import io

from remem.progress import Progress, bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_line_is_redrawn_with_a_bar() -> None:
    out = Terminal()
    progress = Progress(out)
    progress("migrated 500 / 2,000 keys")
    progress("migrated 2,000 / 2,000 keys")
    progress.end()
    text = out.getvalue()
    assert text.count("\r\x1b[K") == 2 and text.endswith("keys\n") and text.count("\n") == 1
    assert "[######------------------]  25% migrated 500 / 2,000 keys" in text
    assert "[########################] 100% migrated 2,000 / 2,000 keys" in text


def test_elsewhere_each_report_is_a_line_and_counts_need_no_bar() -> None:
    out = io.StringIO()
    progress = Progress(out)
    progress("re-embedded 256 memories so far")
    progress("migrated 1 / 1 keys")
    progress.end()
    assert out.getvalue() == "re-embedded 256 memories so far\nmigrated 1 / 1 keys\n"
    assert bar("re-embedded 256 memories so far") == ""
