"""Measured load: U concurrent users against two `seg serve` processes on one PostgreSQL.

It creates a fresh database on the PostgreSQL server `--postgres` names (default
`$SEG_TEST_POSTGRES_URL`; the database is dropped afterwards), runs `seg server init`, starts
`--servers` (2) `seg serve` processes on free 127.0.0.1 ports, and drives `--users` closed-loop
users (no pause between requests unless `--think-ms`) for `--seconds` over both servers:
list / get / create / PATCH with If-Match / DELETE with If-Match on sources and their
destinations. Contention is deliberate:
the namespace is small (creates of the same name race), and users share one etag cache, so
several users PATCH or DELETE the same hot resources with the same etag at once.

It reports requests/s and p50/p95/p99 latency per operation and the status counts, then
checks integrity and prints PASS/FAIL per check (exit 1 when one fails):

- no 5xx (and every request answered);
- one winner per etag: at most one successful PATCH/DELETE per (resource, If-Match);
- the audit trail (GET …/audit-events, every page) holds exactly the successful writes the
  clients saw, per method and resource;
- no duplicate names (listed through the API);
- no orphans: every destination's source exists (through the API and a read-only SQL query);
- every resource's final state is its last successful write: the writes to a name form etag
  chains (create → PATCH → … → DELETE; every write's display name is unique, so its etag is),
  at most one chain is still open, and the listed resource is its end (etag and value).

`--plan-check` also times a no-op `seg plan` of a generated workspace (`--plan-resources`,
5,000) against the first server, idle and while `--plan-users` (10) users load both servers,
and reports the ratio of the medians (goal ≤ 1.5).

    python benchmarks/load.py --users 10 --seconds 60 [--plan-check] [-o json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from generate import generate  # noqa: E402

SEG = [sys.executable, "-m", "seg"]
OPS = ("list", "get", "create", "patch", "delete")
WEIGHTS = (15, 30, 15, 30, 10)  # of OPS
SOURCES = 12  # the namespace: s-00 … s-11, each with destinations d-0 … d-3
DESTINATIONS = 4
HOT = 3  # sources s-00 … s-02 and their first two destinations take half of the writes
WORKSPACE = "load"
REQUEST_TIMEOUT = 30.0
GOAL_P99_MS = 100.0
SLACK_WEBHOOK = "https://hooks.slack.com/services/T0/B0/bench"  # the generated alerts' webhook
GOAL_PLAN_RATIO = 1.5


STARTED = time.monotonic()


def progress(message: str) -> None:
    """A line on stderr with the seconds since the start (stdout holds only the report)."""
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the database and the servers --------------------------------------------------------


@contextlib.contextmanager
def fresh_database(admin_url: str, keep: bool) -> Iterator[str]:
    """A new database on the server ``admin_url`` names (dropped afterwards unless ``keep``),
    so a run never sees another run's rows."""
    from seg.store.sql import normalise_url

    name = "seg_load_" + secrets.token_hex(4)
    admin = sa.create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = sa.engine.make_url(admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


class Servers:
    """``seg server init`` and ``count`` ``seg serve`` processes sharing one database and
    one secret key, each on a free loopback port, logging to files in ``tmp``."""

    def __init__(self, database: str, tmp: Path, count: int) -> None:
        self.env = {**os.environ, "SEG_DATABASE_URL": database, "NO_COLOR": "1",
                    "SEG_SECRET_KEY_FILE": str(tmp / "secret.key"),
                    "BENCH_API_KEY": "bench-secret",
                    "BENCH_SLACK_WEBHOOK": SLACK_WEBHOOK}  # fmt: skip
        for var in ("SEG_API_URL", "SEG_TOKEN", "SEG_WORKSPACE", "SEG_ENV"):
            self.env.pop(var, None)
        self.tmp = tmp
        progress("seg server init")
        self.token = self.init(WORKSPACE)
        progress(f"starting {count} seg serve processes")
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []
        for _ in range(count):
            port = free_port()
            log = open(tmp / f"server-{port}.log", "wb")  # noqa: SIM115
            self.procs.append(subprocess.Popen([*SEG, "serve", "--port", str(port)],
                                               env=self.env, stdout=log, stderr=log))  # fmt: skip
            self.urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(self.urls, self.procs, strict=True):
            self._wait_ready(url, proc)

    def init(self, slug: str) -> str:
        """A workspace and its owner token."""
        made = subprocess.run([*SEG, "server", "init", "--slug", slug, "-o", "json"],
                              env=self.env, capture_output=True, text=True)  # fmt: skip
        if made.returncode != 0:
            raise SystemExit(f"seg server init failed: {made.stderr.strip()}")
        return str(json.loads(made.stdout)["token"])

    @staticmethod
    def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"seg serve on {url} exited {proc.returncode}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit(f"seg serve on {url} did not start")

    def cpu_seconds(self) -> float | None:
        """CPU time the servers used so far (Linux ``/proc``; None elsewhere): with the
        request count, a cost per request that does not depend on how loaded the machine is."""
        total = 0.0
        for proc in self.procs:
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- what the clients saw ----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request as a client saw it. ``status`` 0: no response (a transport error)."""

    op: str
    method: str
    name: str  # the resource's full name (the collection's, for a list)
    status: int
    seconds: float
    if_match: str = ""
    etag: str = ""  # of the response's resource
    value: str = ""  # the response's display name
    measured: bool = True  # False for the setup's writes
    error: str = ""  # the transport error's class, when there was no response


@dataclass
class Ledger:
    calls: list[Call] = field(default_factory=list)

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method in ("POST", "PATCH", "DELETE")]

    def won(self) -> list[Call]:
        return [c for c in self.writes() if c.status == 200]


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``, in milliseconds."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return round(ordered[index] * 1000, 1)


def statistics_of(calls: list[Call], seconds: float) -> dict[str, Any]:
    """Requests/s, latency quantiles and status counts per operation and in all."""
    measured = [c for c in calls if c.measured]
    ops: dict[str, Any] = {}
    for op in OPS:
        calls = [c for c in measured if c.op == op]
        ops[op] = _figures(calls, seconds)
    return {"seconds": round(seconds, 1), "operations": ops, "all": _figures(measured, seconds)}


def _figures(calls: list[Call], seconds: float) -> dict[str, Any]:
    latencies = [c.seconds for c in calls]
    statuses = Counter(str(c.status) for c in calls)
    if not latencies:
        return {"requests": 0, "rps": 0.0, "p50_ms": None, "p95_ms": None, "p99_ms": None,
                "max_ms": None, "statuses": {}}  # fmt: skip
    return {"requests": len(calls), "rps": round(len(calls) / seconds, 1),
            "p50_ms": percentile(latencies, 0.50), "p95_ms": percentile(latencies, 0.95),
            "p99_ms": percentile(latencies, 0.99), "max_ms": round(max(latencies) * 1000, 1),
            "statuses": dict(sorted(statuses.items()))}  # fmt: skip


# --- the users ---------------------------------------------------------------------------


class World:
    """The namespace the users share, their etag cache, and the HTTP clients (one per
    server, each request to a server picked at random)."""

    def __init__(self, urls: list[str], token: str, users: int, seed: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        # Idle connections are dropped well before uvicorn's keep-alive timeout (5 s), or a
        # request sent on one as the server closes it gets no response.
        limits = httpx.Limits(max_connections=users + 4, max_keepalive_connections=users + 4,
                              keepalive_expiry=2.0)  # fmt: skip
        self.clients = [httpx.AsyncClient(base_url=u, headers=headers, limits=limits,
                                          timeout=REQUEST_TIMEOUT) for u in urls]  # fmt: skip
        self.ledger = Ledger()
        self.etags: dict[str, str] = {}
        self.random = random.Random(seed)
        self.serial = 0
        self.prefix = f"/v1beta/workspaces/{WORKSPACE}"
        self.think = 0.0  # seconds each user pauses between requests

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()

    def unique(self, user: int) -> str:
        """A display name no other write uses, so each write's etag is its own."""
        self.serial += 1
        return f"u{user}-w{self.serial}"

    @staticmethod
    def source(i: int) -> str:
        return f"s-{i:02d}"

    def full(self, path: str) -> str:
        return f"workspaces/{WORKSPACE}/{path}"

    async def call(self, op: str, method: str, path: str, *, body: Any = None,
                   if_match: str = "", measured: bool = True,
                   resource: str = "") -> httpx.Response | None:  # fmt: skip
        """One request, recorded; ``resource``: the path of the resource a create makes."""
        client = self.random.choice(self.clients)
        headers = {"If-Match": if_match} if if_match else {}
        name = self.full(resource or path.split("?")[0])
        start = time.perf_counter()
        try:
            response = await client.request(method, f"{self.prefix}/{path}", json=body,
                                            headers=headers)  # fmt: skip
        except httpx.HTTPError as exc:
            self.ledger.calls.append(Call(op, method, name, 0, time.perf_counter() - start,
                                          if_match, measured=measured,
                                          error=type(exc).__name__))  # fmt: skip
            return None
        seconds = time.perf_counter() - start
        etag = value = ""
        if response.status_code == 200 and method in ("GET", "POST", "PATCH") and op != "list":
            doc = response.json()
            etag, value = str(doc.get("etag", "")), str(doc.get("display_name", ""))
            self.etags[name] = etag
        elif response.status_code in (404, 412) or (method == "DELETE" and response.is_success):
            self.etags.pop(name, None)
        self.ledger.calls.append(Call(op, method, name, response.status_code, seconds,
                                      if_match, etag, value, measured))  # fmt: skip
        return response

    # Paths: "sources/s-00" and "sources/s-00/destinations/d-1".

    def pick(self, hot: bool) -> str:
        if hot:
            i, j = self.random.randrange(HOT), self.random.randrange(2)
        else:
            i, j = self.random.randrange(SOURCES), self.random.randrange(DESTINATIONS)
        source = f"sources/{self.source(i)}"
        return source if self.random.random() < 0.25 else f"{source}/destinations/d-{j}"

    def body(self, path: str, user: int, create: bool) -> dict[str, Any]:
        key = "destination" if "/destinations/" in path else "source"
        resource: dict[str, Any] = {"display_name": self.unique(user)}
        if create:
            catalog = "amplitude" if key == "destination" else "javascript"
            resource |= {"name": self.full(path), "catalog": catalog}
            return {key: resource}
        return {key: resource, "update_mask": {"paths": [f"{key}.display_name"]}}

    async def etag_of(self, path: str) -> str:
        """The cached etag (shared by every user: the contention), else a GET's."""
        cached = self.etags.get(self.full(path))
        if cached:
            return cached
        response = await self.call("get", "GET", path)
        return str(response.json()["etag"]) if response and response.status_code == 200 else ""

    async def step(self, user: int) -> None:
        op = self.random.choices(OPS, WEIGHTS)[0]
        if op == "list":
            choice = self.random.randrange(3)
            if choice == 0:
                await self.call("list", "GET", "sources?page_size=50")
            elif choice == 1:
                source = self.source(self.random.randrange(SOURCES))
                await self.call("list", "GET", f"sources/{source}/destinations")
            else:
                await self.call("list", "GET", "sources/-/destinations?page_size=100")
        elif op == "get":
            await self.call("get", "GET", self.pick(self.random.random() < 0.3))
        elif op == "create":
            path = self.pick(False)
            collection = path.rsplit("/", 1)[0]
            await self.call("create", "POST", collection, body=self.body(path, user, True),
                            resource=path)
        else:
            path = self.pick(self.random.random() < 0.5)
            etag = await self.etag_of(path)
            if not etag:
                return
            if op == "patch":
                body = self.body(path, user, False)
                await self.call("patch", "PATCH", path, body=body, if_match=etag)
            else:
                await self.call("delete", "DELETE", path, if_match=etag)

    async def setup(self) -> None:
        """Every source and two destinations each (recorded: the audit check counts them)."""
        for i in range(SOURCES):
            for path in [f"sources/{self.source(i)}",
                         *(f"sources/{self.source(i)}/destinations/d-{j}" for j in range(2))]:
                collection = path.rsplit("/", 1)[0]
                body = self.body(path, -1, True)
                response = await self.call("create", "POST", collection, body=body,
                                           measured=False, resource=path)  # fmt: skip
                if response is None or response.status_code != 200:
                    raise SystemExit(f"setup: creating {path} failed")

    async def drive(self, users: int, until: asyncio.Event | float,
                    max_requests: int = 0) -> float:  # fmt: skip
        """Run ``users`` users until the deadline (a monotonic time) or the event; returns
        the seconds they ran."""
        start = time.monotonic()

        def done() -> bool:
            if max_requests and len(self.ledger.calls) >= max_requests:
                return True
            if isinstance(until, asyncio.Event):
                return until.is_set()
            return time.monotonic() >= until

        async def user(n: int) -> None:
            while not done():
                await self.step(n)
                if self.think:
                    await asyncio.sleep(self.think)

        await asyncio.gather(*(user(n) for n in range(users)))
        return time.monotonic() - start


# --- integrity ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


async def list_all(client: httpx.AsyncClient, path: str, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        params = {"page_size": "1000", **({"page_token": token} if token else {})}
        response = await client.get(f"/v1beta/workspaces/{WORKSPACE}/{path}", params=params)
        response.raise_for_status()
        doc = response.json()
        items += doc[key]
        token = doc["next_page_token"]
        if not token:
            return items


async def integrity(world: World, database: str) -> list[Check]:
    ledger, client = world.ledger, world.clients[-1]
    sources = await list_all(client, "sources", "sources")
    destinations = await list_all(client, "sources/-/destinations", "destinations")
    events = await list_all(client, "audit-events", "audit_events")
    live = {r["name"]: r for r in [*sources, *destinations]}
    return [
        check_no_5xx(ledger),
        check_one_winner(ledger),
        check_audit(ledger, events),
        check_unique([r["name"] for r in [*sources, *destinations]]),
        check_orphans(sources, destinations, database),
        check_final_state(ledger, live),
    ]


def check_no_5xx(ledger: Ledger) -> Check:
    bad = Counter(str(c.status or f"no response ({c.error})") for c in ledger.calls
                  if c.status >= 500 or c.status == 0)  # fmt: skip
    detail = ", ".join(f"{n} × {s}" for s, n in sorted(bad.items()))
    return Check("no 5xx", not bad, detail or f"{len(ledger.calls)} responses, none 5xx")


def check_one_winner(ledger: Ledger) -> Check:
    wins = Counter((c.name, c.if_match) for c in ledger.won() if c.if_match)
    tried = Counter((c.name, c.if_match) for c in ledger.writes() if c.if_match)
    raced = sum(1 for n in tried.values() if n > 1)
    twice = [f"{name} {etag} ({n} winners)" for (name, etag), n in wins.items() if n > 1]
    return Check("one winner per etag", not twice,
                 "; ".join(twice[:5]) or f"{len(wins)} conditional writes won; "
                 f"{raced} etags were raced by several writes")  # fmt: skip


def check_audit(ledger: Ledger, events: list[dict[str, Any]]) -> Check:
    seen = Counter((c.method, c.name) for c in ledger.won())
    audited = Counter((e["method"], e["resource"]) for e in events)
    if seen == audited:
        return Check("audit events = successful writes", True,
                     f"{len(events)} events, {sum(seen.values())} writes")  # fmt: skip
    missing, extra = seen - audited, audited - seen
    return Check("audit events = successful writes", False,
                 f"{len(events)} events, {sum(seen.values())} writes; not audited: "
                 f"{sorted(missing.items())[:3]}; audited, not seen: "
                 f"{sorted(extra.items())[:3]}")  # fmt: skip


def check_unique(names: list[str]) -> Check:
    twice = [n for n, count in Counter(names).items() if count > 1]
    return Check("no duplicate names", not twice, ", ".join(twice[:5]) or f"{len(names)} names")


def check_orphans(sources: list[dict[str, Any]], destinations: list[dict[str, Any]],
                  database: str) -> Check:  # fmt: skip
    """Through the API (a destination's source is listed) and a read-only SQL query (a row
    whose parent row is gone)."""
    from seg.store.sql import normalise_url

    names = {s["name"] for s in sources}
    orphans = [d["name"] for d in destinations if d["source"] not in names]
    engine = sa.create_engine(normalise_url(database))
    query = ("SELECT c.name FROM resources c LEFT JOIN resources p ON p.name = c.parent "
             "WHERE c.parent IS NOT NULL AND p.name IS NULL")  # fmt: skip
    try:
        with engine.connect() as conn:
            orphans += [str(r[0]) for r in conn.execute(sa.text(query))]
    finally:
        engine.dispose()
    detail = ", ".join(orphans[:5]) or f"{len(destinations)} destinations, all parented"
    return Check("no orphans", not orphans, detail)


def check_final_state(ledger: Ledger, live: dict[str, dict[str, Any]]) -> Check:
    """Per name, the successful writes form etag chains: a create starts one, a PATCH moves
    it on (its If-Match is the etag the previous write produced), a DELETE ends it. At most
    one chain may be open, and it must end in the live resource; no open chain: absent."""
    problems: list[str] = []
    by_name: dict[str, list[Call]] = defaultdict(list)
    for c in ledger.won():
        by_name[c.name].append(c)
    for name in sorted(set(by_name) | set(live)):
        produced = {c.etag: c for c in by_name.get(name, []) if c.method != "DELETE"}
        consumed = {c.if_match for c in by_name.get(name, []) if c.if_match}
        if unknown := consumed - produced.keys():
            problems.append(f"{name}: a write won with an etag no write made ({min(unknown)})")
        ends = [c for etag, c in produced.items() if etag not in consumed]
        resource = live.get(name)
        if len(ends) > 1:
            problems.append(f"{name}: {len(ends)} open chains")
        elif not ends and resource is not None:
            problems.append(f"{name}: exists, but its last write deleted it")
        elif ends and resource is None:
            problems.append(f"{name}: missing, but its last write was a {ends[0].method}")
        elif ends and resource is not None and (
            (resource["etag"], resource["display_name"]) != (ends[0].etag, ends[0].value)
        ):
            problems.append(f"{name}: is {resource['display_name']!r}, last written "
                            f"{ends[0].value!r}")  # fmt: skip
    return Check("final state = last successful write", not problems,
                 "; ".join(problems[:5]) or f"{len(live)} resources match, "
                 f"{len(by_name)} names written")  # fmt: skip


# --- the no-op plan, idle and under load -------------------------------------------------


async def time_plans(servers: Servers, root: Path, token: str,
                     runs: int) -> tuple[list[float], list[float]]:  # fmt: skip
    """The wall time and the CPU time of each of ``runs`` no-op plans (the CPU time from the
    children's rusage: only the plan is reaped in between)."""
    env = {**servers.env, "SEG_API_URL": servers.urls[0], "SEG_TOKEN": token}
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *SEG, "plan", "-w", str(root), "--detailed-exitcode", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await proc.communicate()
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"the no-op plan exited {proc.returncode}: {err.decode()[-500:]}")
    return times, cpu


async def plan_check(servers: Servers, world: World, args: argparse.Namespace,
                     database: str) -> dict[str, Any]:  # fmt: skip
    root = servers.tmp / "plan-ws"
    count = generate(root, args.plan_resources, "bench")
    progress(f"plan check: applying {count} resources")
    token = servers.init("bench")
    env = {**servers.env, "SEG_API_URL": servers.urls[0], "SEG_TOKEN": token}
    start = time.perf_counter()
    applied = subprocess.run([*SEG, "apply", "-w", str(root), "--auto-approve"], env=env,
                             capture_output=True, text=True)  # fmt: skip
    apply_seconds = time.perf_counter() - start
    if applied.returncode != 0:
        raise SystemExit(f"apply of the plan workspace failed: {applied.stderr[-500:]}")
    progress(f"plan check: {args.plan_runs} no-op plans idle")
    idle, idle_cpu = await time_plans(servers, root, token, args.plan_runs)
    progress(f"plan check: {args.plan_runs} no-op plans under {args.plan_users}-user load")
    stop = asyncio.Event()
    first = len(world.ledger.calls)
    load = asyncio.create_task(world.drive(args.plan_users, stop))
    await asyncio.sleep(2)  # the users are up to speed before the first plan
    loaded, loaded_cpu = await time_plans(servers, root, token, args.plan_runs)
    stop.set()
    seconds = await load
    ratio = statistics.median(loaded) / statistics.median(idle)
    return {"resources": count, "apply_seconds": round(apply_seconds, 1),
            "idle_seconds": [round(t, 2) for t in idle],
            "loaded_seconds": [round(t, 2) for t in loaded], "users": args.plan_users,
            "idle_cpu_seconds": [round(t, 2) for t in idle_cpu],
            "loaded_cpu_seconds": [round(t, 2) for t in loaded_cpu],
            "ratio": round(ratio, 2), "goal": GOAL_PLAN_RATIO, "met": ratio <= GOAL_PLAN_RATIO,
            "load": statistics_of(world.ledger.calls[first:], seconds),
            "checks": [c.__dict__ for c in await integrity(world, database)]}  # fmt: skip


# --- the run -----------------------------------------------------------------------------


async def run(args: argparse.Namespace, database: str, tmp: Path) -> dict[str, Any]:
    servers = Servers(database, tmp, args.servers)
    try:
        world = World(servers.urls, servers.token, args.users, args.seed)
        world.think = args.think_ms / 1000
        try:
            progress("setup: the sources and destinations")
            await world.setup()
            progress(f"{args.users} users for {args.seconds} s")
            cpu_before, client_before = servers.cpu_seconds(), time.process_time()
            seconds = await world.drive(args.users, time.monotonic() + args.seconds,
                                        args.max_requests)  # fmt: skip
            cpu_after, client_cpu = servers.cpu_seconds(), time.process_time() - client_before
            progress("integrity checks")
            checks = await integrity(world, database)
            report: dict[str, Any] = {
                "users": args.users, "think_ms": args.think_ms, "servers": args.servers,
                "cpus": os.cpu_count(),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                **statistics_of(world.ledger.calls, seconds),
                "checks": [c.__dict__ for c in checks],
            }  # fmt: skip
            requests = max(1, report["all"]["requests"])
            report["cpu_ms_per_request"] = {
                "servers": None if cpu_before is None or cpu_after is None
                else round((cpu_after - cpu_before) * 1000 / requests, 1),
                "driver": round(client_cpu * 1000 / requests, 1),
            }
            p99 = report["all"]["p99_ms"]
            report["goals"] = {
                "no_5xx_and_integrity": all(c.passed for c in checks),
                "p99_under_100_ms": p99 is not None and p99 < GOAL_P99_MS,
            }
        finally:
            await world.close()
        if args.plan_check:
            plan_world = World(servers.urls, servers.token, args.plan_users, args.seed + 1)
            plan_world.ledger = world.ledger  # one history of the load workspace
            # and one series of values: etags hash the fields, so a value written again in
            # the second phase would bring back an etag of the first (two "winners" of it)
            plan_world.serial = world.serial
            plan_world.think = world.think
            try:
                report["plan_check"] = await plan_check(servers, plan_world, args, database)
            finally:
                await plan_world.close()
        return report
    finally:
        servers.stop()


def passed(report: dict[str, Any]) -> bool:
    checks = [*report["checks"], *report.get("plan_check", {}).get("checks", [])]
    return all(c["passed"] for c in checks)


def print_text(report: dict[str, Any]) -> None:
    print(f"{report['users']} users, {report['servers']} servers, {report['seconds']} s "
          f"({report['cpus']} CPUs, load average {report['load_average']})")  # fmt: skip
    _print_table(report)
    cpu = report["cpu_ms_per_request"]
    print(f"  CPU per request: servers {cpu['servers']} ms, this driver {cpu['driver']} ms")
    print("\nintegrity:")
    for c in report["checks"]:
        print(f"  {'PASS' if c['passed'] else 'FAIL'}  {c['name']}: {c['detail']}")
    plan = report.get("plan_check")
    if plan:
        print(f"\nno-op plan of {plan['resources']} resources (apply took "
              f"{plan['apply_seconds']} s): idle {plan['idle_seconds']} s, under "
              f"{plan['users']}-user load {plan['loaded_seconds']} s; ratio of medians "
              f"{plan['ratio']} ({'met' if plan['met'] else 'MISSED'}: "
              f"goal ≤ {plan['goal']}); the plan's own CPU: idle {plan['idle_cpu_seconds']} s, "
              f"under load {plan['loaded_cpu_seconds']} s")  # fmt: skip
        _print_table(plan["load"])
        for c in plan["checks"]:
            print(f"  {'PASS' if c['passed'] else 'FAIL'}  {c['name']}: {c['detail']}")


def _print_table(stats: dict[str, Any]) -> None:
    print(f"  {'operation':<10} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'p99 ms':>7} {'max ms':>7}  statuses")  # fmt: skip
    for name, row in [*stats["operations"].items(), ("all", stats["all"])]:
        statuses = " ".join(f"{s}:{n}" for s, n in row["statuses"].items())
        quantiles = " ".join(f"{row[q]!s:>7}" for q in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
        print(f"  {name:<10} {row['requests']:>8} {row['rps']:>7} {quantiles}  {statuses}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=os.environ.get("SEG_TEST_POSTGRES_URL", ""),
                        metavar="URL", help="a PostgreSQL server to create the run's database "
                        "on (default $SEG_TEST_POSTGRES_URL)")  # fmt: skip
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--think-ms", type=float, default=0.0,
                        help="each user's pause between requests (default 0: closed loop)")
    parser.add_argument("--max-requests", type=int, default=0, help="stop after N (0: no cap)")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--plan-check", action="store_true")
    parser.add_argument("--plan-resources", type=int, default=5000)
    parser.add_argument("--plan-runs", type=int, default=3)
    parser.add_argument("--plan-users", type=int, default=10)
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    args = parser.parse_args()
    if not args.postgres.startswith("postgresql"):
        raise SystemExit("error: name a PostgreSQL server with --postgres or "
                         "SEG_TEST_POSTGRES_URL (postgresql://…)")  # fmt: skip
    if args.users < 1 or args.servers < 1 or args.seconds <= 0:
        raise SystemExit("error: --users, --servers and --seconds must be positive")
    with tempfile.TemporaryDirectory() as tmpdir, \
            fresh_database(args.postgres, args.keep_database) as database:  # fmt: skip
        report = asyncio.run(run(args, database, Path(tmpdir)))
    if args.output == "json":
        print(json.dumps(report, indent=2))
    else:
        print_text(report)
    sys.exit(0 if passed(report) else 1)


if __name__ == "__main__":
    main()
