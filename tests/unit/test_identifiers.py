from __future__ import annotations

import pytest

from remem.errors import InvalidInput
from remem.memory.identifiers import check_id, optional_id
from tests.helpers import HOSTILE_IDS


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_printable_values_are_accepted(value: str) -> None:
    assert check_id("session_id", value) == value


@pytest.mark.parametrize(
    "value", ["", " a", "a ", "a\nb", "a\x1fb", "x" * 4097, "ü" * 2049, "\ud800"]
)
def test_values_that_cannot_be_filtered_exactly_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput):
        check_id("session_id", value)


def test_only_none_means_absent() -> None:
    """``""`` is refused: it was stored as no namespace, and ``?namespace=`` listed them all."""
    assert optional_id("namespace", None) is None
    with pytest.raises(InvalidInput, match="must not be empty"):
        optional_id("namespace", "")


def test_the_length_limit_is_in_bytes() -> None:
    assert check_id("topics[0]", "x" * 4096) == "x" * 4096
    assert check_id("topics[0]", "ü" * 2048) == "ü" * 2048
