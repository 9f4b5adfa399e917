from __future__ import annotations

import pytest

from remem.errors import InvalidInput
from remem.memory.identifiers import check_id, optional_id
from tests.helpers import HOSTILE_IDS


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_printable_values_are_accepted(value: str) -> None:
    assert check_id("session_id", value) == value


@pytest.mark.parametrize("value", ["", " a", "a ", "a\nb", "a\x1fb", "x" * 5000])
def test_values_that_cannot_be_filtered_exactly_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput):
        check_id("session_id", value)


def test_empty_optional_means_absent() -> None:
    assert optional_id("namespace", "") is None
    assert optional_id("namespace", None) is None
