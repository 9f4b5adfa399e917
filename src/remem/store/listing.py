"""Listing working-memory sessions (``working_memory_idx``) by a sort field either way, with a
true total, never a session past its expiry, at a cost that does not grow with the sessions
skipped: a few FT.SEARCH calls, planned by the scope's size (``SessionListing.list_sessions``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from redis.asyncio import Redis

from remem.store.connection import translates_errors
from remem.store.keys import Keys
from remem.store.query import (
    conjunction,
    is_prefix,
    numeric_not,
    numeric_range,
    tag_equals,
    tag_patterns,
)

SortField = Literal["created_at", "updated_at"]

# Scopes with fewer live sessions than these are listed with one plain sorted query, larger ones
# with the count + window plan (``list_sessions``): PLAIN_BELOW for a top page (descending,
# ending within _TOP_DEPTH of the top), PLAIN_DEEP_BELOW for the others. Redis main-thread CPU
# per listing of 20, plain vs window, by sessions in the namespace (bench/listing.py --spread 10,
# /proc schedstat, medians), since the window plan sends its count and window together (_top):
# first page 1,000: 57 vs 60 µs; 1,500: 77 vs 70; 2,000: 93 vs 86; 2,500: 111 vs 92; 3,500: 141
# vs 109 (AMS 0.15.2's one unsorted query: 69, 86, 100, 113, 136). Offset 200: 1,500: 205 vs
# 166; 3,500: 307 vs 186. Offset 1,000: 1,500: 504 vs 624; 2,500: 692 vs 765; 3,500: 802 vs
# 709; offset 480: 1,500: 339 vs 317; 3,500: 506 vs 331. Before (count, then windows), page at
# offset size/2: 2,000: 473 vs 642; 3,500: 929 vs 1,212; 4,000: 1,069 vs 504; 5,000: 1,399 vs 718.
# Sessions written through the API (bench/versus_ams.py: 2 messages each, in a burst) sort at a
# higher price: a first page of 1,000 cost Redis 155 µs plain and 77 windowed (all threads), so
# top pages take the window from 500 sessions (bench/listing.py: 300: 57 vs 58; 1,000: 73 vs 70).
PLAIN_BELOW = 500
PLAIN_DEEP_BELOW = 4_000
_TOP_DEPTH = 500

# Pages that end within this many sessions of the top are read with one sorted window query.
_SHALLOW = 2_000
# How far the deep-page boundary may land above the wanted offset (window read below it).
_SLACK = 1_000
_INF = float("inf")


def alive(now: float) -> str:
    """Sessions not past their expiry at ``now``.

    Redis deletes an expired key (and its index entry) lazily: measured on a listing polled
    every 0.2 s while 200 of 400 sessions expired, 5 of 29 listings still held sessions up to
    0.47 s past their TTL. So the document carries its ``expires_at`` (the instant its key
    expires, PEXPIREAT) and the index leaves out what is past it. The clause is a negation
    (persistent sessions have no ``expires_at``). It is not free: it adds a fifth to two thirds
    to a sorted query's Redis CPU (bench/listing.py, first page of 20: 1,000 sessions 47 -> 60
    µs, 20,000: 526 -> 713, 100,000: 5.3 -> 8.8 ms), so listings use it only when a session
    past its expiry is still indexed (``_first``).
    """
    return numeric_not("expires_at", high=now)


def _past(now: float) -> tuple[Any, ...]:
    """The expiry question (``_first``): how many indexed sessions are past their expiry."""
    return (numeric_range("expires_at", None, now), "NOCONTENT", "LIMIT", 0, 0, "DIALECT", 2)


def ids_of(reply: dict[str, Any]) -> list[str]:
    return [row["id"] for row in reply.get("results", [])]


def _sorted(field: str, descending: bool, offset: int, limit: int) -> tuple[Any, ...]:
    """Arguments of the plain plan: one query that sorts every match, giving the page and the
    total. Its ties fall in the same order as the window plan's (the engine breaks them by
    document, ascending the reverse of descending), so a scope crossing a threshold
    (``plain_below``, ``plain_deep_below``) keeps its pages."""
    order = "DESC" if descending else "ASC"
    return ("NOCONTENT", "SORTBY", field, order, "LIMIT", offset, max(limit, 0))


@translates_errors
@dataclass
class SessionListing:
    redis: Redis
    keys: Keys
    index: str
    plain_below: int = PLAIN_BELOW
    plain_deep_below: int = PLAIN_DEEP_BELOW
    # Where the last listings found what they needed: a start; every answer is counted exactly.
    _hints: dict[tuple[object, ...], float] = field(default_factory=dict)

    async def list_sessions(
        self,
        *,
        namespace: str | None = None,
        namespaces: Sequence[str] | None = None,
        user_id: str | None,
        sort: SortField,
        descending: bool,
        offset: int,
        limit: int,
    ) -> tuple[int, list[str]]:
        """(true total, session ids of the page).

        The plan follows the number of sessions listed, as the last listing of the same scope
        counted it: below ``plain_below`` (a top page: descending, ending within _TOP_DEPTH of
        the top) or ``plain_deep_below`` (any other page), one sorted query gives the page and
        the total; above, an exact count and a window sort, sent together for a descending
        page near the top (``_top``), one after the other otherwise (``_page_desc``). A scope
        not listed before (or forgotten) is counted first, and the count picks the plan.
        """
        scope = await self._scope(namespace, namespaces, user_id)
        if scope is None:
            return 0, []
        now = time.time()
        size_key = ("size", scope)
        known = self._hints.get(size_key)
        # (An offset past the plain plan's range goes to the count, which ends a listing past
        # its end: the engine refuses an offset over MAXSEARCHRESULTS, 1,000,000 by default.)
        top = descending and offset + limit <= _TOP_DEPTH
        small = self.plain_below if top else self.plain_deep_below
        if known is not None and known < small and offset < small:
            _, reply = await self._first(scope, now, *_sorted(sort, descending, offset, limit))
            total, keys = int(reply["total_results"]), ids_of(reply)
        elif known is not None and descending and limit > 0 and offset + limit <= _SHALLOW:
            total, keys = await self._top(scope, sort, now, offset, limit)
        else:
            base, reply = await self._first(scope, now, "LIMIT", 0, 0)
            total = int(reply["total_results"])
            if offset >= total or limit <= 0:
                keys = []
            elif total < small:
                keys = ids_of(await self._search(base, *_sorted(sort, descending, offset, limit)))
            elif descending:
                keys = await self._page_desc(base, scope, sort, offset, limit, total)
            else:  # the ascending page is a descending page counted from the other end
                start = max(0, total - offset - limit)
                count = total - offset - start
                keys = (await self._page_desc(base, scope, sort, start, count, total))[::-1]
        self._hint(size_key, total)
        return total, [self.keys.parse_working_memory(k)[2] for k in keys]

    async def _scope(
        self, namespace: str | None, namespaces: Sequence[str] | None, user_id: str | None
    ) -> str | None:
        """The filter of the sessions listed; None when ``namespaces`` matches no namespace."""
        in_namespaces = ""
        if namespaces is not None:  # exact names, or prefixes ending in * (a caller's scope)
            values = await self._namespaces() if any(map(is_prefix, namespaces)) else ()
            found = tag_patterns("namespace", namespaces, values)
            if found is None:
                return None
            in_namespaces = found
        return conjunction(
            [
                tag_equals("namespace", namespace) if namespace else "",
                in_namespaces,
                tag_equals("user_id", user_id) if user_id else "",
            ]
        )

    async def _namespaces(self) -> list[str]:
        """Every namespace some indexed session has (one ``FT.TAGVALS``, O(namespaces))."""
        values = await self.redis.execute_command("FT.TAGVALS", self.index, "namespace")
        return [v.decode() if isinstance(v, bytes) else v for v in values]

    async def _first(self, scope: str, now: float, *args: Any) -> tuple[str, dict[str, Any]]:
        """The listing's first query, and the filter the rest of the listing uses.

        Sent in one round trip with a question to the whole index: does any session past its
        expiry at ``now`` remain (not yet reclaimed: Redis takes up to about half a second)?
        When none does, the query runs on ``scope`` alone, without the expiry clause, which
        costs more than the question (Redis main-thread CPU for a first page, bench/listing.py:
        1,000 sessions 64 vs 55 µs, 5,000: 213 vs 160, 20,000: 769 vs 553; 100 sessions: 26
        vs 33). It stays exact: no write can index a session already past ``now`` (its key
        expires in the same script, on Redis's clock, which this process's is taken to agree
        with), so every session listed was alive at ``now``, the listing's start. When some
        remain, the query is asked again with the clause (``alive``).
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.execute_command("FT.SEARCH", self.index, *_past(now))
            pipe.execute_command("FT.SEARCH", self.index, scope, *args, "DIALECT", 2)
            expired, reply = await pipe.execute()
        if int(expired["total_results"]) == 0:
            return scope, reply
        base = conjunction([scope, alive(now)])
        return base, await self._search(base, *args)

    async def _top(
        self, scope: str, field: str, now: float, offset: int, limit: int
    ) -> tuple[int, list[str]]:
        """A shallow descending page of a large scope, (true total, keys), in one round trip.

        Three queries sent together: the expiry question (``_first``), the exact count of the
        scope, and the page sorted out of a window ``field >= low`` only, ``low`` remembered
        from the last listing of the same scope and page (``_low``). The count walks the
        scope once without sorting (a sort of the whole scope costs 1.6 times as much) and
        the window touches a few dozen sessions. The page is exact whenever the window holds
        ``offset + limit`` sessions (then every session ranked above them lies in it, ties
        included); when it holds fewer (a first listing, or the top sessions deleted) the
        windows grow from there (``_page_desc``), as do listings with the expiry clause.
        """
        need = offset + limit
        low, learn = self._low(scope, field, need, now)
        window = conjunction([scope, numeric_range(field, low)])
        keys = ("NOCONTENT", "WITHSORTKEYS") if learn else ("NOCONTENT",)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.execute_command("FT.SEARCH", self.index, *_past(now))
            pipe.execute_command("FT.SEARCH", self.index, scope, "LIMIT", 0, 0, "DIALECT", 2)
            pipe.execute_command(
                "FT.SEARCH", self.index, window, *keys, "SORTBY", field, "DESC",
                "LIMIT", offset, limit, "DIALECT", 2,
            )  # fmt: skip
            expired, counted, page = await pipe.execute()
        if int(expired["total_results"]):  # a session past its TTL is not yet reclaimed
            base = conjunction([scope, alive(now)])
            total = await self._count(base)
            found = await self._page_desc(base, scope, field, offset, limit, total)
            return total, found if offset < total else []
        total, held = int(counted["total_results"]), int(page["total_results"])
        if offset >= total:
            return total, []
        if held >= need or held >= total:
            self._anchor(scope, field, offset, limit, page, held)
            return total, ids_of(page)
        self._hints.pop(("low", scope, field, need), None)  # too high: learn it again
        # The next windows start below this one (``_page_desc`` grows them from the present).
        width, origin = None, time.time() + 1.0
        if low is not None and low < origin:  # (sessions dated in the future: from the present)
            grow = min(max(2.0 * need / held, 2.0), 1_000.0) if held else 16.0
            width = (origin - low) * grow
        return total, await self._page_desc(scope, scope, field, offset, limit, total, width)

    def _low(self, scope: str, field: str, need: int, now: float) -> tuple[float | None, bool]:
        """Where the window of a shallow page starts (None: the whole scope), and whether to
        read its sort values to place the next one (``_anchor``): when nothing is remembered
        for this page, or the last window held over four times what the page needs."""
        anchor = self._hints.get(("low", scope, field, need))
        if anchor is not None:
            relearn = self._hints.get(("relearn", scope, field, need), 0.0)
            return (None if anchor == -_INF else anchor), bool(relearn)
        density = self._hints.get(("density", scope, field, True))
        top = self._hints.get(("newest", scope, field), now + 1.0)
        return top - (2.0 * need / density if density else 1.0), True

    def _anchor(
        self, scope: str, field: str, offset: int, limit: int, page: dict[str, Any], held: int
    ) -> None:
        """Remember where the next window for this page should start: below the page's last
        session by half as many sessions again as the page needs (at the spacing of the
        page's own values), so a few sessions deleted from the top do not make it miss, and
        sessions created meanwhile only add to it. Read from the sort values, which a window
        returns only when asked (``_low``); otherwise the anchor stays, and is read again
        after a window that held over four times what the page needs."""
        need = offset + limit
        self._hint(("relearn", scope, field, need), float(held > 4 * need))
        rows = page.get("results", [])
        if held < need:  # the whole scope is smaller than the page: the window is all of it
            self._hint(("low", scope, field, need), -_INF)
            return
        try:
            values = [float(str(row["sortkey"]).lstrip("#")) for row in rows]
        except (KeyError, TypeError, ValueError):  # no sort values asked, or a session without
            return  # the field: keep what is remembered
        if not values:
            return
        if offset == 0:
            self._hint(("newest", scope, field), values[0])
        step = (values[0] - values[-1]) / max(len(values) - 1, 1)
        self._hint(("low", scope, field, need), values[-1] - step * need / 2.0)
        self._hint(("relearn", scope, field, need), 0.0)

    async def _search(self, query: str, *args: Any) -> dict[str, Any]:
        reply: dict[str, Any] = await self.redis.execute_command(
            "FT.SEARCH", self.index, query, *args, "DIALECT", 2
        )
        return reply

    async def _count(self, query: str) -> int:
        return int((await self._search(query, "LIMIT", 0, 0))["total_results"])

    async def _window(
        self, base: str, field: str, low: float, high: float | None, skip: int, limit: int
    ) -> tuple[int, list[str]]:
        """Sessions with low <= field < high, newest first: (count in window, page)."""
        query = conjunction(
            [base, numeric_range(field, low, high, high_exclusive=high is not None)]
        )
        reply = await self._search(
            query, "NOCONTENT", "SORTBY", field, "DESC", "LIMIT", skip, limit
        )
        return int(reply["total_results"]), ids_of(reply)

    async def _page_desc(
        self,
        base: str,
        scope: str,
        field: str,
        offset: int,
        limit: int,
        total: int,
        width: float | None = None,
    ) -> list[str]:
        """Keys at ranks [offset, offset+limit) in descending ``field`` order.

        A plain ``SORTBY field LIMIT offset n`` sorts every match, so its cost grows with the
        matches and the offset. Instead: find a value ``top`` of the field above which about
        ``offset`` sessions lie (counted exactly), then sort only a small window just below
        it. Windows grow geometrically from the present until they hold what is needed, so
        every query touches few documents besides the one exact count. ``width``: the first
        window's, for a page near the top (default: from the density last met there).
        """
        now = time.time() + 1.0
        top: float | None = None  # upper bound of the window (exclusive); None = +inf
        above = 0  # exact number of sessions with field >= top
        if offset + limit > _SHALLOW:
            top, above = await self._boundary(base, scope, field, now, offset, total)
        need = offset - above + limit
        origin = now if top is None else top
        # What is remembered is the density of sessions (per second of ``field``) the last
        # window met there, kept by scope (``base`` holds the expiry clause's time, new on each
        # call): a width remembered as such served one page size only, and pages of 20 and
        # 1,000 at the top undid each other's (10,000 sessions: 5 queries a first page, not 2).
        hint_key = ("density", scope, field, top is None)
        if width is None or top is not None:
            density = self._hints.get(hint_key)
            width = 2.0 * need / density if density else 1.0  # aims at twice what is needed
        while True:
            count, page = await self._window(
                base, field, origin - width, top, offset - above, limit
            )
            if count:
                self._hint(hint_key, count / width)
            if count >= need or above + count >= total:
                if top is None:  # where ``_top`` starts this page's window next time
                    low = origin - width if count >= need else -_INF
                    self._hint(("low", scope, field, need), low)
                    self._hint(("relearn", scope, field, need), float(count > 4 * need))
                return page
            grow = 2.0 * need / count if count else 16.0
            width *= min(max(grow, 2.0), 1_000.0)

    def _hint(self, key: tuple[object, ...], value: float) -> None:
        if len(self._hints) > 1_024:
            self._hints.clear()
        self._hints[key] = value

    async def _boundary(
        self, base: str, scope: str, field: str, now: float, offset: int, total: int
    ) -> tuple[float, int]:
        """A value t with offset - _SLACK <= count(field >= t) <= offset, and that count.

        Interpolation search on the monotone function count(field >= t), seeded by a cheap
        window at the top; on near-uniform data it lands in one or two exact counts.
        """
        hi_t, hi_c = now, 0  # count(field >= hi_t) = hi_c <= offset
        lo_t: float | None = None  # count(field >= lo_t) = lo_c > offset
        lo_c = total
        hint_key = ("boundary", scope, field, offset)
        hinted = self._hints.get(hint_key)
        if hinted is not None and hinted < now:
            count = await self._count(conjunction([base, numeric_range(field, hinted)]))
            if offset - _SLACK <= count <= offset:
                return hinted, count
            if count > offset:
                lo_t, lo_c = hinted, count
            else:
                hi_t, hi_c = hinted, count
        density = self._hints.get(("density", scope, field, True))
        width = 128.0 / density if density else 1.0  # twice the 64 sessions looked for below
        while lo_t is None and hi_c == 0:  # seed: a window at the top holding a few sessions
            count = await self._count(conjunction([base, numeric_range(field, now - width)]))
            if count > offset:
                lo_t, lo_c = now - width, count
                break
            hi_t, hi_c = now - width, count
            if count >= min(offset, 64) and count > 0:
                break
            width *= 16.0
        for _ in range(40):
            if offset - _SLACK <= hi_c:
                self._hint(hint_key, hi_t)
                return hi_t, hi_c
            target = offset - _SLACK / 2
            if lo_t is None:  # extrapolate from the slope seen so far
                rate = (hi_c / (now - hi_t)) if hi_c else 1.0 / (now - hi_t)
                guess = hi_t - (target - hi_c) / max(rate, 1e-12)
            else:  # interpolate; fall back to bisection when too close to an end
                share = (target - hi_c) / (lo_c - hi_c)
                share = min(max(share, 0.05), 0.95)
                guess = hi_t - (hi_t - lo_t) * share
            count = await self._count(conjunction([base, numeric_range(field, guess)]))
            if count > offset:
                lo_t, lo_c = guess, count
            else:
                hi_t, hi_c = guess, count
        return hi_t, hi_c
