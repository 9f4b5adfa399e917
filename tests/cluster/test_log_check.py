"""The check every cluster test ends with (``conftest.no_unhandled_redirections``) knows what
it looks for."""

from __future__ import annotations

from tests.cluster.conftest import UNHANDLED


def test_the_log_check_knows_an_unhandled_redirection() -> None:
    assert UNHANDLED.search("ResponseError: MOVED 3999 127.0.0.1:7001")
    assert UNHANDLED.search("ASK 12 127.0.0.1:7002")
    assert UNHANDLED.search("CROSSSLOT Keys in request don't hash to the same slot")
    # A script whose keys a migration split is a 503, not acknowledged: handled, allowed.
    assert not UNHANDLED.search("TRYAGAIN Multiple keys request during rehashing of slot")
    assert not UNHANDLED.search("slots moved: 12 keys sent over")
