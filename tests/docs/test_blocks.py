"""How the snippet test reads a page: blocks and their markers, a shell block's commands, and
an output block compared with what was printed (volatile parts aside)."""

from __future__ import annotations

from pathlib import Path

import pytest

from remem.config import Settings
from tests.docs.blocks import blocks, commands, match_output
from tests.docs.test_snippets import World, run_block


def test_a_page_gives_its_blocks_with_their_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n<!-- output -->\n```text\nok\n```\n\n```bash\nremem config\n```\n")
    found = blocks(page)
    assert [(b.line, b.lang, b.marker, b.text) for b in found] == [
        (4, "text", "output", "ok\n"),
        (8, "bash", None, "remem config\n"),
    ]


def test_a_shell_block_splits_into_commands_without_comments() -> None:
    script = (
        "# a comment line\n"
        "curl -X PUT localhost:8000/x -H 'a: b' \\\n"
        '  -d \'{"text": "a # inside quotes",\n'
        '       "n": 1}\'\n'
        "sleep 4   # the worker's poll\n"
    )
    assert commands(script) == [
        "curl -X PUT localhost:8000/x -H 'a: b' \\\n"
        '  -d \'{"text": "a # inside quotes",\n'
        '       "n": 1}\'',
        "sleep 4",
    ]


def test_output_matches_whatever_ids_and_times_a_run_makes() -> None:
    shown = "token 3f9c0a1b2c4d: expires 2027-03-01T19:40:12Z\nrmm_3f9c0a1b2c4d_...\n"
    printed = "token 27267ecbdce3: expires 2027-03-05T18:36:42Z\nrmm_27267ecbdce3_xtIS-DZR\n"
    assert match_output(shown, printed) == {
        "3f9c0a1b2c4d": "27267ecbdce3",
        "2027-03-01T19:40:12Z": "2027-03-05T18:36:42Z",
    }


@pytest.mark.parametrize(
    "printed",
    [
        "token 27267ecbdce3: expires never\n",
        "token 27267ecbdce3: expires 2027-03-05T18:36:42Z\nmore\n",
    ],
)
def test_output_that_differs_otherwise_fails(printed: str) -> None:
    with pytest.raises(AssertionError):
        match_output("token 3f9c0a1b2c4d: expires 2027-03-01T19:40:12Z\n", printed)


async def test_a_command_neither_run_nor_listed_fails_its_page(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```bash\nrm -rf build\n```\n\n```yaml\na: 1\n```\n")
    world = World(Settings(redis_url="redis://unused"), "http://unused", tmp_path)
    shell, unchecked = blocks(page)
    with pytest.raises(AssertionError, match="neither run by this test nor listed"):
        await run_block(shell, world, 0)
    with pytest.raises(AssertionError, match="needs a check"):
        await run_block(unchecked, world, 1)
