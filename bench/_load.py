"""Load-generation helpers for the remem benchmarks: closed-loop cells, latency statistics, CPU
accounting from /proc and py-spy profile summaries.

A cell runs ``n`` operations with ``concurrency`` coroutines in one asyncio process (uvloop when
installed): each coroutine takes the next operation number, awaits it and records its latency.
The load generator shares the machine with the server, so it is kept cheap: one process, no
threads, pre-built URLs and bodies, and its own CPU time is measured and reported per operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")


# -- statistics ------------------------------------------------------------------------------------
def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-q * len(sorted_values) // 100)))  # ceil(q/100 * n)
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class CellResult:
    name: str
    concurrency: int
    n: int
    seconds: float
    latencies: list[float]  # seconds, ascending
    errors: int = 0
    cpu_us_per_op: dict[str, float] = field(default_factory=dict)  # component -> CPU µs / op

    @property
    def ops(self) -> float:
        return self.n / self.seconds if self.seconds else float("nan")

    @property
    def p50_ms(self) -> float:
        return 1000 * percentile(self.latencies, 50)

    @property
    def p95_ms(self) -> float:
        return 1000 * percentile(self.latencies, 95)

    @property
    def p99_ms(self) -> float:
        return 1000 * percentile(self.latencies, 99)

    def line(self) -> str:
        cpu = " ".join(f"{k}={v:.0f}" for k, v in self.cpu_us_per_op.items())
        if "other" in self.cpu_us_per_op:  # other processes' CPU, in cores
            cpu += f" (other = {self.cpu_us_per_op['other'] * self.ops / 1e6:.2f} cores)"
        err = f" ERRORS={self.errors}" if self.errors else ""
        return (
            f"{self.name:<28} c={self.concurrency:<3} n={self.n:<6} {self.ops:>8.0f} ops/s  "
            f"p50 {self.p50_ms:6.2f} ms  p95 {self.p95_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms"
            f"  cpu µs/op: {cpu}{err}"
        )


# -- CPU accounting --------------------------------------------------------------------------------
def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def threads_cpu_usec(pid: int) -> float:
    """CPU time of every thread of a process (Redis's Query Engine may run queries on threads
    of its own), from schedstat: run time only, in ns, so a busy neighbour does not inflate
    it."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e3


def descendants(pid: int) -> list[int]:
    """pid and all its descendants (scanning /proc)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(c for c, pp in parent.items() if pp == p)
    return out


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have spent busy (from /proc/stat)."""
    with open("/proc/stat") as fh:
        fields = fh.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def connections_per_process(pids: Iterable[int], port: int) -> dict[int, int]:
    """Established TCP connections on local ``port`` held by each process (from /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh)
                for line in fh:
                    cols = line.split()
                    if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "01":
                        inodes.add(cols[9])
        except OSError:
            continue
    out = {}
    for pid in pids:
        count = 0
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        count += 1
        out[pid] = count
    return out


class CpuMeter:
    """CPU seconds used by named groups of processes between ``start`` and ``stop``, per
    operation; "load" is this process and "other" everything else running on the machine."""

    def __init__(self, groups: dict[str, Iterable[int]]) -> None:
        self.groups = {name: list(pids) for name, pids in groups.items()}
        self._t0: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        out = {name: sum(proc_cpu_seconds(p) for p in pids) for name, pids in self.groups.items()}
        out["load"] = time.process_time()
        out["machine"] = machine_busy_seconds()
        return out

    def start(self) -> None:
        self._t0 = self._now()

    def stop(self, n: int) -> dict[str, float]:
        now = self._now()
        used = {k: now[k] - self._t0[k] for k in now}
        machine = used.pop("machine")
        used["other"] = max(0.0, machine - sum(used.values()))
        return {k: 1e6 * v / n for k, v in used.items()}


# -- closed-loop cells ---------------------------------------------------------------------------
async def run_cell(
    name: str,
    op: Callable[[int], Awaitable[bool]],
    n: int,
    concurrency: int,
    *,
    warmup: int = 0,
    meter: CpuMeter | None = None,
) -> CellResult:
    """Run op(0..n-1) with ``concurrency`` coroutines; op returns False on a failed request.

    ``warmup`` operations (numbered -warmup..-1) run first, unmeasured.
    """
    if warmup:
        await _drive(op, range(-warmup, 0), concurrency, [])
    latencies: list[float] = []
    if meter:
        meter.start()
    t0 = time.perf_counter()
    errors = await _drive(op, range(n), concurrency, latencies)
    seconds = time.perf_counter() - t0
    cpu = meter.stop(n) if meter else {}
    latencies.sort()
    return CellResult(name, concurrency, n, seconds, latencies, errors, cpu)


async def _drive(
    op: Callable[[int], Awaitable[bool]], numbers: range, concurrency: int, out: list[float]
) -> int:
    it = iter(numbers)
    errors = 0
    clock = time.perf_counter
    record = out.append

    async def worker() -> None:
        nonlocal errors
        for i in it:  # a shared iterator: each number is taken by exactly one worker
            t0 = clock()
            ok = await op(i)
            record(clock() - t0)
            if not ok:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return errors


# -- profiles --------------------------------------------------------------------------------------
_IDLE_LEAVES = ("Condition.wait (threading.py)", "Queue.get (queue.py)")
_KEY_FRAMES = (
    "solve_dependencies",
    "run_in_threadpool",
    "request_params_to_args",
    "request_body_to_args",
    "Request.body",
    "Request.json",
    "serialize_response",
    "_prepare_response_content",
    "jsonable_encoder",
    "model_validate",
    "model_dump",
    "dump_json",
    "validate_python",
    "WorkingMemoryService.",
    "WorkingMemoryStore.",
    "Script.__call__",
    "execute_command",
    "dumps",
    "loads",
    "BodySizeLimit",
    "HttpToolsProtocol",
    "RequestResponseCycle.send",
)


def summarize_collapsed(path: Path, top: int = 12) -> str:
    """Hot spots of a py-spy ``--format raw`` file: self time by package and by frame, and the
    inclusive time of a few telling frames. Idle thread-pool workers are left out; "Runner.run"
    as a leaf is time in C below the event loop (uvloop, socket I/O, epoll)."""
    by_package: Counter[str] = Counter()
    self_count: Counter[str] = Counter()
    incl_count: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        if frames[-1].startswith(_IDLE_LEAVES):
            idle += count
            continue
        total += count
        self_count[frames[-1]] += count
        by_package[_package(frames[-1])] += count
        for frame in set(frames):
            if any(k in frame for k in _KEY_FRAMES):
                incl_count[frame] += count
    if not total:
        return f"{path.name}: no samples"

    def pct(c: int) -> str:
        return f"{100 * c / total:5.1f}"

    lines = [f"{path.name}: {total} busy samples ({idle} idle thread-pool samples left out)"]
    lines.append(
        "  self% by package: "
        + ", ".join(f"{p} {100 * c / total:.0f}" for p, c in by_package.most_common(10))
    )
    lines.append("  self%  frame")
    lines += [f"  {pct(c)}  {f}" for f, c in self_count.most_common(top)]
    lines.append("  incl%  frame")
    lines += [f"  {pct(c)}  {f}" for f, c in incl_count.most_common(2 * top)]
    return "\n".join(lines)


def _package(frame: str) -> str:
    if frame.startswith("Runner.run "):
        return "C/event loop"
    file = frame.rpartition(" (")[2].rstrip(")")
    return file.split("/", 1)[0].removesuffix(".py") if file else "?"


def _short(frame: str) -> str:
    """'func (/long/path/site-packages/pkg/mod.py:12)' -> 'func (pkg/mod.py)'."""
    func, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{func} ({file})" if file else func


# -- HTTP clients ----------------------------------------------------------------------------------
class HttpClient:
    """``prepare`` a request once, ``send`` it many times; ``send`` returns (status, body)."""

    name = ""

    def prepare(self, method: str, target: str, body: bytes = b"") -> Any:
        raise NotImplementedError

    async def send(self, request: Any) -> tuple[int, bytes]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class LeanClient(HttpClient):
    """The lean client below (default): about 30-75 µs of CPU per request."""

    name = "lean (asyncio Protocol + httptools)"

    def __init__(self, host: str, port: int) -> None:
        self.host = f"{host}:{port}"
        self._http = LeanHTTP(host, port)

    def prepare(self, method: str, target: str, body: bytes = b"") -> bytes:
        return encode_request(method, target, self.host, body)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        return await self._http.request(request)

    async def close(self) -> None:
        self._http.close()


class AiohttpClient(HttpClient):
    """aiohttp with keep-alive: a well-known client, but 150-250 µs of CPU per request here,
    which caps one load process at about 2,500 requests/s on this class of machine."""

    name = "aiohttp"

    def __init__(self, host: str, port: int) -> None:
        import aiohttp

        self.base = f"http://{host}:{port}"
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=300),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
        )

    def prepare(self, method: str, target: str, body: bytes = b"") -> Any:
        from yarl import URL

        headers = {"Content-Type": "application/json"} if body else None
        return method, URL(self.base + target, encoded=True), body or None, headers

    async def send(self, request: Any) -> tuple[int, bytes]:
        method, url, body, headers = request
        async with self._session.request(method, url, data=body, headers=headers) as resp:
            return resp.status, await resp.read()

    async def close(self) -> None:
        await self._session.close()


# -- a lean HTTP/1.1 client ------------------------------------------------------------------------
class LeanHTTP:
    """Keep-alive HTTP/1.1 connections for load generation: one request in flight per
    connection, requests pre-encoded by the caller, responses parsed by httptools (the parser
    uvicorn uses). Several times cheaper per request than aiohttp; used by ``--client lean``.

    ``request(raw)`` sends the bytes of a complete request and returns (status, body).
    Connections are taken from a free list and opened on demand, so ``concurrency``
    coroutines end up with ``concurrency`` connections.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._free: list[_LeanConnection] = []
        self._all: list[_LeanConnection] = []

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        while self._free:  # the server closes keep-alive connections left idle (uvicorn: 5 s)
            conn = self._free.pop()
            if conn.reusable:
                try:
                    return await self._send(conn, raw)
                except ConnectionError:
                    continue  # closed under our feet before answering: try another one
        return await self._send(await self._open(), raw)

    async def _send(self, conn: _LeanConnection, raw: bytes) -> tuple[int, bytes]:
        try:
            result = await conn.request(raw)
        except BaseException:
            conn.close()
            raise
        if conn.reusable:
            self._free.append(conn)
        return result

    async def _open(self) -> _LeanConnection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_LeanConnection, self.host, self.port)
        self._all.append(conn)
        return conn

    def close(self) -> None:
        for conn in self._all:
            conn.close()


class _LeanConnection(asyncio.Protocol):
    def __init__(self) -> None:
        import httptools

        self._parser = httptools.HttpResponseParser(self)
        self._body: list[bytes] = []
        self._done: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.reusable = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio and uvloop both set TCP_NODELAY on TCP transports
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def request(self, raw: bytes) -> asyncio.Future[tuple[int, bytes]]:
        self._done = asyncio.get_running_loop().create_future()
        if self.transport is None or self.transport.is_closing():
            self.reusable = False
            self._done.set_exception(ConnectionError("connection closed"))
        else:
            self.transport.write(raw)
        return self._done

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        body, self._body = b"".join(self._body), []
        self.reusable = self._parser.should_keep_alive()
        if self._done is not None and not self._done.done():
            self._done.set_result((self._parser.get_status_code(), body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if self._done is not None and not self._done.done():
            self._done.set_exception(ConnectionError(f"connection closed: {exc}"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def encode_request(
    method: str, target: str, host: str, body: bytes = b"", content_type: str = "application/json"
) -> bytes:
    """The bytes of one HTTP/1.1 keep-alive request."""
    head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"
    if body or method in ("PUT", "POST"):
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode("latin-1") + b"\r\n" + body
