"""Authorisation: the one place that holds a request to its caller's scope.

Every REST route and every MCP tool calls these functions before it touches a service, with
what the request named; each asks ``caller()`` (the principal the HTTP middleware, the stdio
MCP server or the CLI set) and either answers with the values the service must use or raises
``Forbidden`` (403, saying why) / ``NotFound``. Both interfaces share them, so REST and MCP
cannot drift apart, and a reader checks one module to know what a token can reach.

The rules (``Principal`` has the scope arithmetic):

- addressing one session: the namespace and user it names must lie in the scope; missing ones
  are filled in from it. Writes need the write role.
- listing: narrowed to the scope's namespaces and user, never another tenant's session.
- long-term records by id: outside the scope they do not exist (404, never 403, untouched).
- search: a filter that names namespaces or users outside the scope is a 403; the scope is then
  ANDed into the query, so no filter (``ne``, ``none``, an empty answer) can widen it.
- forget and compaction: within one namespace of the scope need write; across namespaces,
  admin.

An unrestricted caller (every namespace, any user: auth disabled, the local admin) skips the
narrowing work; the cost for the others is a few attribute reads (bench/cpu_per_request.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from remem.auth.context import caller
from remem.auth.principal import Principal
from remem.background.summary_views import Scope as ViewScope
from remem.errors import Forbidden, InvalidInput, NotFound
from remem.memory.filters import Within
from remem.memory.identifiers import check_id, optional_id
from remem.models.memory import MemoryRecord
from remem.models.prompt import MemoryPromptRequest
from remem.models.search import SearchFilters, TagFilter

Visible = Callable[[str | None, str | None], bool]


# -- working memory ----------------------------------------------------------------------------
def session(namespace: str | None, user_id: str | None) -> tuple[str | None, str | None]:
    """The (namespace, user) of the session a read addresses."""
    who = caller()
    return who.namespace(namespace), who.user(user_id)


def session_write(
    namespace: str | None, user_id: str | None, memories: Iterable[MemoryRecord] = ()
) -> tuple[str | None, str | None]:
    """The (namespace, user) of the session a write addresses (write role). The structured
    ``memories`` it carries are promoted to long-term memory later, in their own namespace and
    user when they name one: those must lie in the scope too."""
    who = caller()
    who.require("write", "writing working memory")
    for memory in memories:
        if memory.namespace is not None:
            who.namespace(memory.namespace)
        if memory.user_id is not None:
            who.user(memory.user_id)
    return who.namespace(namespace), who.user(user_id)


def sessions(
    namespace: str | None, user_id: str | None
) -> tuple[str | None, tuple[str, ...] | None, str | None]:
    """What a session listing covers: (the namespace it named, the scope's namespace patterns
    (None: any), the user)."""
    who = caller()
    if namespace is not None:
        return who.namespace(namespace), None, who.user(user_id)
    return None, who.namespace_patterns(None), who.user(user_id)


# -- the managed API's stores ------------------------------------------------------------------
def store(store_id: str, *, write: bool = False) -> tuple[str, str | None, Visible]:
    """A managed API store is remem's namespace of the same name: (that namespace, the user
    the caller is bound to or None, the test of the records it may touch there). A store
    outside the scope is a 403, as a namespace is; writes need write."""
    if store_id == "{storeId}":  # what the SDK sends when no store is configured
        raise InvalidInput("no storeId: set the SDK's store_id (or AGENT_MEMORY_STORE_ID)")
    who = caller()
    if write:
        who.require("write", "writing to a store")
    namespace = who.namespace(check_id("storeId", store_id))
    assert namespace is not None  # named, so resolved to itself

    def in_store(record_namespace: str | None, user_id: str | None) -> bool:
        return record_namespace == namespace and who.allows_user(user_id)

    return namespace, who.user_id, in_store


# -- long-term memory: records ---------------------------------------------------------------
def new_records(records: Iterable[MemoryRecord]) -> None:
    """Each record's namespace and user in the scope (filled in from it where missing)."""
    who = caller()
    who.require("write", "storing memories")
    for record in records:
        record.namespace = who.namespace(record.namespace)
        record.user_id = who.user(record.user_id)


def visible() -> Visible | None:
    """Which records (by namespace, user) the caller may see; None: all of them."""
    who = caller()
    return None if who.unrestricted else who.sees


def readable(record: MemoryRecord) -> MemoryRecord:
    """``record``, or "not found" when it lies outside the scope (ids are not probed)."""
    if not caller().sees(record.namespace, record.user_id):
        raise NotFound(f"memory {record.id!r} not found")
    return record


def edit(changes: Iterable[str], namespace: str | None, user_id: str | None) -> Visible | None:
    """An edit (write role) that moves a record (``changes`` names the fields sent) may only
    move it within the scope; returns the visibility test for the record edited."""
    who = caller()
    who.require("write", "editing memories")
    sent = set(changes)
    if "namespace" in sent and not who.allows_namespace(namespace):
        raise Forbidden(f"namespace {namespace!r} is outside this caller's scope")
    if "user_id" in sent and not who.allows_user(user_id):
        raise Forbidden(f"user {user_id!r} is outside this caller's scope")
    return visible()


def delete() -> Visible | None:
    who = caller()
    who.require("write", "deleting memories")
    return visible()


# -- long-term memory: search, prompt, lifecycle -----------------------------------------------
def search(filters: SearchFilters) -> Within | None:
    """The scope to AND into a search (None: unrestricted), after refusing a namespace or user
    filter that names values outside it."""
    who = caller()
    if who.unrestricted:
        return None
    _check_filter(who, "namespace", filters.namespace, _namespace_overlaps)
    _check_filter(who, "user_id", filters.user_id, _user_overlaps)
    return Within(None if who.every_namespace else who.namespaces, who.user_id)


def prompt(request: MemoryPromptRequest) -> Within | None:
    """A memory prompt: its session is addressed as a read, its search narrowed as one."""
    if request.session is not None:
        request.session.namespace, request.session.user_id = session(
            request.session.namespace, request.session.user_id
        )
    if isinstance(request.long_term_search, SearchFilters):
        return search(request.long_term_search)
    return search(SearchFilters())


def lifecycle(
    namespace: str | None, user_id: str | None, action: str
) -> tuple[str | None, str | None]:
    """Forget or compaction: within one namespace of the scope (filled in when the scope has
    only one) with the write role; over every namespace, the admin role."""
    who = caller()
    who.require("write", action)
    resolved = who.namespace(namespace)
    if resolved is None:
        who.require("admin", f"{action} across namespaces")
    return resolved, who.user(user_id)


# -- summary views -----------------------------------------------------------------------------
# A view is configuration shared by every tenant (its filters name what it covers), so making
# and deleting views is the admin's; reading the definitions is any caller's. What a view
# *reads* (running a partition, listing stored summaries, a full run) is held to the caller's
# scope: the views service ANDs the scope into the view's own filters and keeps summaries per
# scope, so a tenant never reads a summary made of another's memories.
def view_admin(action: str) -> None:
    caller().require("admin", action)


def view_scope(*, write: bool) -> ViewScope:
    """The scope a view is read or run in: the caller's one namespace (and user); a running a
    view (it stores summaries) needs write. A scope over several namespaces is refused, as
    summaries are kept per (namespace, user)."""
    who = caller()
    if write:
        who.require("write", "running a summary view")
    if who.every_namespace:
        return ViewScope(None, who.user_id)
    exact = [p for p in who.namespaces if not p.endswith("*")]
    if len(who.namespaces) != 1 or not exact:
        raise Forbidden(
            "summary views run within one namespace; this caller's scope covers several"
        )
    return ViewScope(exact[0], who.user_id)


# -- erasure, export, audit ------------------------------------------------------------------
def erasure(
    user_id: str | None, namespace: str | None, who: Principal | None = None
) -> tuple[str | None, str | None]:
    """The (user, namespace) an erasure by ``who`` (default: the caller) covers, or a refusal:
    400 if it names nothing, 403 for what the caller may not ask. A namespace needs admin and
    a scope not bound to one user; a user needs write, and the namespace named (or the
    scope's only one) unless the scope covers every namespace."""
    who = who if who is not None else caller()
    user_id = optional_id("user_id", user_id)
    namespace = optional_id("namespace", namespace)
    if user_id is None and namespace is None:
        raise InvalidInput("name a user_id, a namespace, or both (nothing to erase)")
    if user_id is None:
        who.require("admin", "erasing a namespace")
        if who.user_id is not None:
            raise Forbidden(
                "erasing a namespace erases every user's data in it; this caller's "
                "scope is one user"
            )
        return None, who.namespace(namespace)
    who.require("write", "erasing a user's data")
    who.user(user_id)
    if namespace is None and not who.every_namespace:
        try:  # a scope of one exact namespace erases there; any other must say where
            namespace = who.namespace(None)
        except Forbidden:
            raise Forbidden(
                "this caller's scope does not cover every namespace: name the namespace to "
                "erase the user in (namespace=...)"
            ) from None
    return user_id, who.namespace(namespace)


def export(
    user_id: str | None, namespace: str | None, who: Principal | None = None
) -> tuple[str | None, str | None]:
    """(user, namespace) an export by ``who`` (default: the caller) covers: 403 outside its
    scope, 400 for neither (a user-scoped caller's user is implied)."""
    who = who if who is not None else caller()
    who.require("read", "exporting data")
    user = who.user(optional_id("user_id", user_id))
    if namespace is not None:
        who.namespace(optional_id("namespace", namespace))
    if user is None and namespace is None:
        raise InvalidInput("name a user_id, a namespace, or both (what to export)")
    return user, namespace


def namespace_listing() -> tuple[tuple[str, ...] | None, str | None]:
    """The namespace patterns a listing of namespaces covers (None: all) and the user its
    counts are narrowed to (None: every user)."""
    who = caller()
    who.require("read", "listing namespaces")
    return who.namespace_patterns(None), who.user_id


def admin_overview(action: str) -> None:
    """Background work and the API tokens span every tenant: admin over everything only."""
    who = caller()
    who.require("admin", action)
    if not who.unrestricted:
        raise Forbidden(f"{action} needs a scope over every namespace and user")


def audit_log() -> None:
    """The audit log names every tenant's users and namespaces: admin over everything only."""
    who = caller()
    who.require("admin", "reading the audit log")
    if not who.unrestricted:
        raise Forbidden("reading the audit log needs a scope over every namespace and user")


def metrics() -> None:
    """The metrics describe the whole server, every tenant's load: admin over everything only."""
    who = caller()
    who.require("admin", "reading the metrics")
    if not who.unrestricted:
        raise Forbidden("reading the metrics needs a scope over every namespace and user")


# -- helpers -----------------------------------------------------------------------------------
def _positive(f: TagFilter) -> list[str]:
    """The values a filter asks for (as opposed to excludes)."""
    out = [f.eq] if f.eq is not None else []
    for values in (f.any, f.in_, f.all):
        out += values or []
    return out


def _check_filter(
    who: Principal,
    field: str,
    f: TagFilter | None,
    overlaps: Callable[[Principal, str], bool],
) -> None:
    if f is None:
        return
    allowed = who.allows_namespace if field == "namespace" else who.allows_user
    for value in _positive(f):
        if not allowed(value):
            raise Forbidden(f"{field} filter value {value!r} is outside this caller's scope")
    if f.startswith is not None and not overlaps(who, f.startswith):
        raise Forbidden(
            f"{field} filter startswith {f.startswith!r} is outside this caller's scope"
        )


def _namespace_overlaps(who: Principal, prefix: str) -> bool:
    """Some namespace starting with ``prefix`` lies in the scope."""
    if who.every_namespace:
        return True
    for pattern in who.namespaces:
        if pattern.endswith("*"):
            if pattern[:-1].startswith(prefix) or prefix.startswith(pattern[:-1]):
                return True
        elif pattern.startswith(prefix):
            return True
    return False


def _user_overlaps(who: Principal, prefix: str) -> bool:
    return who.user_id is None or who.user_id.startswith(prefix)
