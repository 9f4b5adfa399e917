"""The README as a newcomer follows it: a front door of at most 300 lines (the rest is the docs
site under docs/), the Python snippet runs as written, /docs works offline, `remem --version`
answers. tests/docs/test_snippets.py runs the README's other blocks too."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import httpx

from remem import __version__
from remem.api.app import create_app
from remem.config import Settings
from tests.serving import served

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_is_a_front_door_of_at_most_300_lines() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 300
    assert "## Quick start" in text and "## Where next" in text


def python_snippet() -> str:
    text = README.read_text()
    start = text.index("From Python, with the upstream client")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)  # type: ignore[union-attr]


async def test_the_readme_python_snippet_runs_as_written(settings: Settings) -> None:
    snippet = python_snippet()
    assert "http://127.0.0.1:8000" in snippet
    async with served(create_app(settings)) as url:
        # The one change: the port the test server got instead of 8000.
        code = snippet.replace("http://127.0.0.1:8000", url)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0] == "sessions=['chat-1'] total=1"
    assert lines[1] == "['Alice prefers green tea']"


async def test_the_docs_page_needs_no_network(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text
    scripts = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page)
    assert scripts and all(s.startswith("/") for s in scripts), scripts
    for asset in scripts:
        answer = await client.get(asset)
        assert answer.status_code == 200 and len(answer.content) > 1000, asset
    assert (await client.get("/openapi.json")).json()["info"]["version"] == __version__


def test_version_flag() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from remem.cli import main; main()", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"remem {__version__}"
