"""The blocks of the docs that the code generates: the configuration table
(docs/configuration.md), the command reference (docs/cli.md) and the metrics (docs/metrics.md),
each between an HTML comment pair. ``python -m tests.docs.generated`` rewrites them from the
code, and nothing else of the
pages (tests/unit/test_docs.py fails until someone does after a setting or command changes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _config_table() -> str:
    from remem.config import settings_table

    return settings_table()


def _cli_reference() -> str:
    from remem.cli.reference import markdown

    return markdown()


def _metrics_table() -> str:
    """Every metric remem.metrics defines: its name as scraped, type, labels and help."""
    from prometheus_client.metrics import MetricWrapperBase

    from remem import metrics

    rows = ["| Metric | Type | Labels | Meaning |", "|---|---|---|---|"]
    for obj in vars(metrics).values():
        if not isinstance(obj, MetricWrapperBase):
            continue
        (family,) = obj.describe()
        name = f"{family.name}_total" if family.type == "counter" else family.name
        labels = ", ".join(f"`{label}`" for label in obj._labelnames) or "none"
        rows.append(f"| `{name}` | {family.type} | {labels} | {family.documentation} |")
    return "\n".join(rows)


@dataclass(frozen=True)
class Generated:
    name: str  # the markers are <!-- {name}:start --> and <!-- {name}:end -->
    page: Path
    make: Callable[[], str]

    def span(self, text: str) -> tuple[int, int]:
        start = text.index(f"<!-- {self.name}:start -->\n") + len(f"<!-- {self.name}:start -->\n")
        return start, text.index(f"<!-- {self.name}:end -->")

    def shown(self) -> str:
        text = self.page.read_text()
        start, end = self.span(text)
        return text[start:end].strip()

    def rewrite(self) -> None:
        text = self.page.read_text()
        start, end = self.span(text)
        self.page.write_text(text[:start] + self.make() + "\n" + text[end:])


CONFIG_TABLE = Generated("config-table", DOCS / "configuration.md", _config_table)
CLI_REFERENCE = Generated("cli-reference", DOCS / "cli.md", _cli_reference)
METRICS_TABLE = Generated("metrics-table", DOCS / "metrics.md", _metrics_table)

if __name__ == "__main__":
    for block in (CONFIG_TABLE, CLI_REFERENCE, METRICS_TABLE):
        block.rewrite()
        print(f"rewrote {block.name} in {block.page.name}")
