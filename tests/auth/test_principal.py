"""The scope rules every route and tool relies on."""

from __future__ import annotations

import pytest

from remem.auth import LOCAL_ADMIN, Principal
from remem.errors import Forbidden

ONE = Principal("token:a", namespaces=("acme",), user_id=None, role="write")
PREFIX = Principal("token:b", namespaces=("acme/*", "beta"), user_id="u1", role="read")


def test_local_admin_sees_everything_including_no_namespace() -> None:
    assert LOCAL_ADMIN.unrestricted
    assert LOCAL_ADMIN.sees(None, None) and LOCAL_ADMIN.sees("x", "y")
    assert LOCAL_ADMIN.namespace(None) is None
    assert LOCAL_ADMIN.namespace_patterns(None) is None


def test_single_namespace_fills_in_and_refuses_others() -> None:
    assert ONE.namespace(None) == "acme"
    assert ONE.namespace("acme") == "acme"
    with pytest.raises(Forbidden):
        ONE.namespace("acme2")
    assert not ONE.sees(None, None)  # a scoped caller never sees namespace-less records
    assert ONE.namespace_patterns(None) == ("acme",)


def test_prefix_scope_and_user() -> None:
    assert PREFIX.sees("acme/support", "u1") and PREFIX.sees("beta", "u1")
    assert not PREFIX.sees("acme", "u1")  # "acme/*" is a prefix of names below acme/
    assert not PREFIX.sees("acme/support", "u2")
    with pytest.raises(Forbidden):
        PREFIX.namespace(None)  # several namespaces: the caller must name one
    assert PREFIX.namespace_patterns(None) == ("acme/*", "beta")
    assert PREFIX.user(None) == "u1"
    with pytest.raises(Forbidden):
        PREFIX.user("u2")


def test_roles_rank() -> None:
    PREFIX.require("read", "search")
    with pytest.raises(Forbidden, match="write role"):
        PREFIX.require("write", "writing a session")
    ONE.require("write", "x")
    with pytest.raises(Forbidden):
        ONE.require("admin", "reindex")
    LOCAL_ADMIN.require("admin", "reindex")


async def test_audit_log_keeps_entries_newest_first(resources) -> None:  # type: ignore[no-untyped-def]
    from remem.auth.audit import AuditLog

    log = AuditLog(resources.redis, resources.keys)
    await log.record("token.create", LOCAL_ADMIN, token_id="t1")
    await log.record("auth.failure", None, outcome="denied", reason="unknown token")
    newest = await log.entries(2)
    assert [e["action"] for e in newest] == ["auth.failure", "token.create"]
    assert newest[0]["caller"] == "anonymous" and newest[0]["outcome"] == "denied"
    assert newest[1]["caller"] == "local" and newest[1]["details"] == {"token_id": "t1"}
