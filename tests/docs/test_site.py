"""The docs site builds with MkDocs in strict mode, offline: a broken link, a missing anchor or a
page left out of the navigation is a warning, and strict mode makes any warning fail the build.
Run once (embedded_only): the build does not depend on Redis."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.embedded_only

ROOT = Path(__file__).resolve().parents[2]


def build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def warnings(built: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in built.stderr.splitlines() if line.startswith("WARNING")]


def test_the_site_builds_in_strict_mode_without_a_warning(tmp_path: Path) -> None:
    built = build(ROOT, tmp_path / "site")
    assert built.returncode == 0 and not warnings(built), built.stderr
    pages = {
        p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("*.html")
    }
    expected = {f"{p.stem}/index.html" for p in (ROOT / "docs").glob("*.md") if p.stem != "index"}
    assert expected | {"index.html"} <= pages


def test_a_broken_link_an_unknown_anchor_or_a_page_outside_the_nav_fails_it(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    index = copy / "docs" / "index.md"
    index.write_text(index.read_text() + "\n[gone](gone.md) [lost](concepts.md#no-such-part)\n")
    (copy / "docs" / "orphan.md").write_text("# Orphan\n")
    built = build(copy, tmp_path / "site")
    assert built.returncode != 0
    assert len(warnings(built)) == 3, built.stderr
    assert all(part in built.stderr for part in ("'gone.md'", "#no-such-part", "- orphan.md"))
