"""Order intake through the real HTTP stack, and the memory of a web process and of a worker.

Intake runs against gunicorn started here as a subprocess, configured as production runs it
(``fulfillment/gunicorn_conf.py``: gthread workers, a listening socket per worker, access log;
DEBUG off, static files collected, PostgreSQL, a Redis broker) with ``WEB_WORKERS`` workers of
``WEB_THREADS`` threads each, the configuration's defaults. Two cores: one worker per core plus one,
so a worker whose threads all wait on PostgreSQL or Redis does not leave a core idle, and threads so
that those waits (commits, round trips) overlap inside a worker; the GIL keeps each worker to one
core anyway. gthread keeps connections alive (sync workers close each one), and with a socket per
worker the kernel spreads the load generator's connections over the workers.

The load comes from another process (``_load_main``: asyncio over keep-alive HTTP/1.1
connections, ``_Connection``), so the server's CPU is not shared with the client's GIL. The Celery broker is a
Redis database of the run's own (claimed empty, flushed before and after): the allocation and
outbox tasks enqueued on commit just queue there, and ``worker_memory`` consumes them with a real
worker at the end. Every subprocess runs in a session of its own and its process group is killed
in a ``finally``.

Baselines are the same rows written by psycopg2 directly: one transaction per order (API intake,
same concurrency, own connections), or ``COPY`` per batch (bulk and CSV).

The API's rate limit is raised for the run (``API_THROTTLE_RATE=1000/s``), as an operator would for
a brand posting hundreds of orders a second; a per-second window, because DRF's throttle keeps one
timestamp per request of the window in the cache and reads and writes that whole list on every
request.
"""

from __future__ import annotations

import asyncio
import atexit
import csv
import io
import json
import os
import pickle
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.core import Context, Measurement, figure, percentiles

ROOT = Path(__file__).resolve().parent.parent
WEB_WORKERS = 3
WEB_THREADS = 4
API_CONCURRENCY = WEB_WORKERS * WEB_THREADS  # every thread busy, none queued behind another
BATCH_CONCURRENCY = WEB_WORKERS  # one bulk or CSV request in flight per worker
REQUEST_TIMEOUT = 120.0
LINE_COUNT_WEIGHTS = ([1, 2, 3, 4, 5], [45, 25, 15, 10, 5])  # as in the data set


@dataclass(frozen=True)
class Plan:
    """How much each figure does at a scale (small: quick, for ``make test``)."""

    api_orders: int
    api_warmup: int
    api_seconds: float  # the measured phase stops issuing requests after this long
    bulk_batches: int  # (batches and files: a multiple of BATCH_CONCURRENCY, so none runs alone)
    bulk_size: int
    csv_files: int
    csv_orders: int  # per file
    worker_tasks: int  # queued tasks the worker consumes (the oldest; the rest are dropped)
    worker_seconds: float


PLANS = {
    "small": Plan(200, 48, 20, 3, 250, 3, 250, 100, 60),
    "medium": Plan(3_000, 120, 30, 9, 500, 3, 2_000, 300, 120),
    "full": Plan(12_000, 240, 45, 24, 500, 6, 2_500, 600, 150),
}


# Subprocesses ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _popen(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """Stop a subprocess and everything it started (its process group): TERM, then KILL."""
    if proc is None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with suppress(ProcessLookupError):  # a grandchild that outlived its parent is in the group
        os.killpg(proc.pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def _status_kb(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise LookupError(field_name)


def _peaks_mb(pids: list[int]) -> dict[int, float]:
    """VmHWM (peak resident set) of each process, in MB."""
    peaks = {}
    for pid in pids:
        try:
            peaks[pid] = round(_status_kb(pid, "VmHWM") / 1024, 1)
        except (OSError, LookupError):
            continue
    return peaks


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


# The broker: a Redis database of the run's own ---------------------------------------------------

QUEUE = "celery"
REPORTS_QUEUE = "bench-reports"
_CLAIM_KEY = "bench:intake:claimed"


class Broker:
    """An empty Redis database claimed for the run: a marker key, set only if absent, in a
    database that holds nothing else (and expiring, should the run be killed). Released (flushed)
    by ``worker_memory``, or at exit."""

    def __init__(self) -> None:
        import redis

        base = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
        mine = f"{os.getpid()}-{uuid.uuid4().hex}".encode()
        for db in range(15, 0, -1):
            conn = redis.Redis.from_url(f"{base}/{db}")
            if conn.set(_CLAIM_KEY, mine, nx=True, ex=4 * 3600):
                if conn.dbsize() == 1:
                    self.url, self.redis = f"{base}/{db}", conn
                    return
                conn.delete(_CLAIM_KEY)  # someone else's keys are there: not ours to flush
        raise RuntimeError("No empty Redis database (1-15) to claim for the broker.")

    def queued(self) -> int:
        return self.redis.llen(QUEUE)

    def unacked(self) -> int:
        return self.redis.hlen("unacked")

    def release(self) -> None:
        self.redis.flushdb()


_broker: Broker | None = None


def broker() -> Broker:
    global _broker
    if _broker is None:
        _broker = Broker()
        atexit.register(_release_broker)
    return _broker


def _release_broker() -> None:
    global _broker
    if _broker is not None:
        _broker.release()
        _broker = None


# The web server -----------------------------------------------------------------------------------

_var_dir: Path | None = None


def _production_env(ctx: Context) -> dict[str, str]:
    """The environment of web and worker: production settings (as docker-compose sets them for
    plain HTTP on localhost), the bench database and the run's broker."""
    global _var_dir
    from django.conf import settings

    if _var_dir is None:
        _var_dir = Path(tempfile.mkdtemp(prefix="bench-intake-"))
        atexit.register(_remove_var_dir, _var_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "GUNICORN_", "WEB_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="fulfillment.settings",
        DATABASE_URL=ctx.database_url,
        REDIS_URL=broker().url,
        CACHE_KEY_PREFIX=f"bench-{uuid.uuid4().hex[:8]}",
        DEBUG="false",
        # The bench process's key, so a session it creates (force_login) is valid in gunicorn.
        SECRET_KEY=settings.SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        FULFILLMENT_VAR_DIR=str(_var_dir),
        LOG_LEVEL="WARNING",
        API_THROTTLE_RATE="1000/s",  # see the module's docstring
        PYTHONUNBUFFERED="1",
    )
    return env


def _remove_var_dir(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _collectstatic(env: dict[str, str]) -> None:
    """DEBUG off serves hashed static files from the manifest: collect them once per run."""
    if (Path(env["FULFILLMENT_VAR_DIR"]) / "static" / "staticfiles.json").exists():
        return
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


@dataclass
class Web:
    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        return _children(self.proc.pid)

    def peaks_mb(self) -> dict[int, float]:
        return _peaks_mb(self.workers())

    def cpu_seconds(self) -> float:
        """CPU time the workers have used so far (user + system)."""
        return sum(_cpu_seconds(pid) for pid in self.workers())


@contextmanager
def web_server(ctx: Context) -> Iterator[Web]:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per readiness probe otherwise

    env = _production_env(ctx)
    _collectstatic(env)
    port = _free_port()
    log = Path(env["FULFILLMENT_VAR_DIR"]) / f"gunicorn-{port}.log"
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "fulfillment.wsgi",
        "--config",
        "python:fulfillment.gunicorn_conf",  # production's configuration (gthread, reuse_port)
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WEB_WORKERS),
        "--threads",
        str(WEB_THREADS),
        "--access-logfile",
        "/dev/null",
    ]
    proc = None
    try:
        proc = _popen(args, env, log)
        web = Web(proc, port, log)
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({proc.returncode}):\n{_tail(log)}")
            try:
                ready = httpx.get(f"{web.base_url}/healthz", timeout=2).status_code == 200
                if ready and len(web.workers()) >= WEB_WORKERS:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not become ready:\n{_tail(log)}")
            time.sleep(0.2)
        yield web
    finally:
        _stop(proc)


# The load generator (another process) -------------------------------------------------------------


@dataclass
class Request:
    path: str
    body: bytes
    headers: dict[str, str]
    method: str = "POST"


@dataclass
class Phase:
    requests: list[Request]
    expect: int  # the status every response must have
    seconds: float | None = None  # stop issuing after this long (None: all)
    created_key: str | None = None  # count ``body[created_key]`` of each response


@dataclass
class LoadResult:
    statuses: Counter
    latencies: list[float]
    elapsed: float
    issued: int
    created: int
    unexpected: list[str] = field(default_factory=list)


class _Connection:
    """One keep-alive HTTP/1.1 connection of the load generator: a request written as bytes, the
    response read back whole (status line, headers, a ``Content-Length`` or chunked body).

    A general client (httpx) spends about 2 ms of CPU per request on this machine, in the same two
    cores as the server: at a few hundred requests a second that is a quarter of the machine taken
    from the server. This does only what a keep-alive load needs, and fails loudly on anything
    else (a closed connection, a body it cannot frame)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}", f"content-length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        status, close, body = await asyncio.wait_for(self._response(), REQUEST_TIMEOUT)
        if close:
            self.writer.close()
            self.reader = self.writer = None
        return status, body

    async def _response(self) -> tuple[int, bool, bytes]:
        reader = self.reader
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
        if "content-length" in fields:
            body = await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")  # the empty trailer
            body = b"".join(parts)
        else:
            raise RuntimeError(f"a response the load generator cannot frame: {fields}")
        return status, fields.get("connection", "").lower() == "close", body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _load_main() -> None:
    """The load generator's process: ``python -c "...; _load_main()" SPEC OUT`` (pickle in, JSON out)."""
    from urllib.parse import urlsplit

    spec_path, out_path = sys.argv[1], sys.argv[2]
    with open(spec_path, "rb") as f:
        spec = pickle.load(f)
    concurrency, phases = spec["concurrency"], spec["phases"]
    url = urlsplit(spec["base_url"])

    async def run() -> list[dict]:
        connections = [_Connection(url.hostname, url.port) for _ in range(concurrency)]
        try:
            return [await run_phase(connections, phase) for phase in phases]
        finally:
            for connection in connections:
                connection.close()

    async def run_phase(connections: list[_Connection], phase: Phase) -> dict:
        started = time.perf_counter()
        deadline = started + phase.seconds if phase.seconds else None
        pending = iter(range(len(phase.requests)))
        out = {"statuses": Counter(), "latencies": [], "issued": 0, "created": 0, "unexpected": []}

        async def worker(connection: _Connection) -> None:
            for i in pending:
                if deadline is not None and time.perf_counter() > deadline:
                    return
                req = phase.requests[i]
                out["issued"] += 1
                t0 = time.perf_counter()
                status, body = await connection.request(req.method, req.path, req.body, req.headers)
                out["latencies"].append(time.perf_counter() - t0)
                out["statuses"][status] += 1
                if status != phase.expect and len(out["unexpected"]) < 3:
                    out["unexpected"].append(
                        f"{req.method} {req.path}: {body[:600].decode(errors='replace')}"
                    )
                if phase.created_key and status == phase.expect:
                    out["created"] += int(json.loads(body).get(phase.created_key) or 0)

        await asyncio.gather(*(worker(c) for c in connections))
        out["elapsed"] = time.perf_counter() - started
        out["statuses"] = dict(out["statuses"])
        return out

    results = asyncio.run(run())
    with open(out_path, "w") as f:
        json.dump(results, f)


def generate_load(web: Web, phases: list[Phase], concurrency: int) -> list[LoadResult]:
    """Run the phases one after the other over the same keep-alive connections, in a subprocess."""
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    spec, out, log = work / "spec.pickle", work / "out.json", work / "load.log"
    with spec.open("wb") as f:
        pickle.dump({"base_url": web.base_url, "concurrency": concurrency, "phases": phases}, f)
    total = sum(p.seconds or 600 for p in phases) + 60
    proc = None
    try:
        proc = _popen(
            [sys.executable, "-c", "from bench.intake import _load_main; _load_main()", str(spec), str(out)],
            dict(os.environ),
            log,
        )
        try:
            code = proc.wait(timeout=total)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"the load generator did not finish in {total} s") from None
        if code != 0:
            raise RuntimeError(f"the load generator failed ({code}):\n{_tail(log)}")
        raw = json.loads(out.read_text())
    finally:
        _stop(proc)
        for path in (spec, out, log):
            path.unlink(missing_ok=True)
        work.rmdir()
    return [
        LoadResult(
            statuses=Counter({int(k): v for k, v in r["statuses"].items()}),
            latencies=r["latencies"],
            elapsed=r["elapsed"],
            issued=r["issued"],
            created=r["created"],
            unexpected=r["unexpected"],
        )
        for r in raw
    ]


def _warm_then_measure(
    web: Web, warmup: Phase, measured: Phase, concurrency: int
) -> tuple[LoadResult, LoadResult, float]:
    """The warm-up, then the measured phase (each from a load process of its own), and the CPU
    seconds the web workers spent on the measured one."""
    [first] = generate_load(web, [warmup], concurrency)
    before = web.cpu_seconds()
    [result] = generate_load(web, [measured], concurrency)
    return first, result, web.cpu_seconds() - before


def _require(result: LoadResult, phase: Phase, what: str) -> None:
    bad = {code: n for code, n in result.statuses.items() if code != phase.expect}
    if bad:
        raise RuntimeError(
            f"{what}: every response must be {phase.expect}; got {dict(result.statuses)}. "
            f"First unexpected: {result.unexpected}"
        )


# Realistic orders ---------------------------------------------------------------------------------


@dataclass
class Brand:
    client_id: int
    skus: list[str]
    api_secret: str
    run: str  # this run's token: external references and keys stay unique on a reused database


def _brand(ctx: Context) -> Brand:
    from django_scopes import scopes_disabled

    from accounts.actors import Actor
    from accounts.enums import KeyScope
    from accounts.models import Client
    from accounts.services import api_key_create
    from inventory.models import Item

    with scopes_disabled():
        client = Client.objects.get(pk=ctx.big_client_id)
        skus = list(
            Item.objects.filter(client=client, active=True).order_by("pk").values_list("sku", flat=True)
        )
    key = api_key_create(
        actor=Actor.system("bench"), name="bench intake", client=client, scope=KeyScope.READ_WRITE
    )
    return Brand(client.pk, skus, key.secret, uuid.uuid4().hex[:8])


def _orders(brand: Brand, prefix: str, count: int, seed: int) -> list[dict]:
    """``count`` orders as an integration posts them: 1-5 lines of the brand's SKUs, a real US
    address, a tenth of them expedited."""
    from bench.dataset import CITIES

    rng = random.Random(seed)
    orders = []
    for n in range(count):
        city, state, zip_code = rng.choice(CITIES)
        k = rng.choices(*LINE_COUNT_WEIGHTS)[0]
        lines = [
            {
                "sku": sku,
                "quantity": rng.choices([1, 2, 3], [70, 20, 10])[0],
                "unit_price": f"{rng.randint(500, 9000) / 100:.2f}",
            }
            for sku in rng.sample(brand.skus, k=min(k, len(brand.skus)))
        ]
        orders.append(
            {
                "external_reference": f"{prefix}-{brand.run}-{n:06d}",
                "service_level": "expedited" if rng.random() < 0.1 else "standard",
                "ship_to": {
                    "name": f"Customer {n}",
                    "address1": f"{rng.randint(1, 9000)} Main St",
                    "city": city,
                    "state": state,
                    "zip": zip_code,
                    "phone": "555-0100",
                    "email": f"customer{n}@example.com",
                },
                "lines": lines,
            }
        )
    return orders


def _json_request(brand: Brand, path: str, body: dict) -> Request:
    return Request(
        path,
        json.dumps(body).encode(),
        {
            "authorization": f"Bearer {brand.api_secret}",
            "content-type": "application/json",
            "idempotency-key": uuid.uuid4().hex,
        },
    )


CSV_COLUMNS = (
    "external_reference",
    "sku",
    "quantity",
    "unit_price",
    "ship_to_name",
    "ship_to_address1",
    "ship_to_city",
    "ship_to_state",
    "ship_to_zip",
    "ship_to_phone",
    "ship_to_email",
    "service_level",
)


def _csv_text(orders: list[dict]) -> str:
    """One row per line; the header columns given on every row (as exports from shops do)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for order in orders:
        to = order["ship_to"]
        for line in order["lines"]:
            writer.writerow(
                [
                    order["external_reference"],
                    line["sku"],
                    line["quantity"],
                    line["unit_price"],
                    to["name"],
                    to["address1"],
                    to["city"],
                    to["state"],
                    to["zip"],
                    to["phone"],
                    to["email"],
                    order["service_level"],
                ]
            )
    return buffer.getvalue()


def _csv_request(brand: Brand, orders: list[dict]) -> Request:
    boundary = f"bench{uuid.uuid4().hex}"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="orders.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n{_csv_text(orders)}\r\n--{boundary}--\r\n"
    ).encode()
    return Request(
        "/api/v1/orders/import/",
        body,
        {
            "authorization": f"Bearer {brand.api_secret}",
            "content-type": f"multipart/form-data; boundary={boundary}",
            "idempotency-key": uuid.uuid4().hex,
        },
    )


# Baselines: the same rows written by psycopg2 directly ----------------------------------------------


class Rows:
    """The rows ``order_create`` writes for one order, built from the models' ``_meta`` (every
    concrete column but the id, defaults as the model has them): the order, its lines, its
    ``received`` status event and its ``order.created`` outbox event, and the API's idempotency
    record (its final, completed state)."""

    def __init__(self, client_id: int, now: datetime):
        from fulfillment.models import IdempotencyRecord
        from orders.models import Order, OrderEvent, OrderLine
        from shipments.models import Event

        self.client_id, self.now = client_id, now
        self.models = {
            "order": Order,
            "line": OrderLine,
            "event": OrderEvent,
            "outbox": Event,
            "key": IdempotencyRecord,
        }
        self.fields = {
            name: [f for f in model._meta.concrete_fields if not f.primary_key]
            for name, model in self.models.items()
        }

    def table(self, name: str) -> str:
        return self.models[name]._meta.db_table

    def columns(self, name: str, *, with_id: bool = False) -> list[str]:
        return (["id"] if with_id else []) + [f.column for f in self.fields[name]]

    def values(self, name: str, **given) -> list:
        row = []
        for f in self.fields[name]:
            if f.attname in given:
                value = given[f.attname]
            elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value = self.now
            elif f.has_default():
                value = f.get_default()
            elif f.null:
                value = None
            else:
                value = ""
            row.append(json.dumps(value) if isinstance(value, list | dict) else value)
        return row

    def order(self, order: dict, channel: str) -> list:
        to = order["ship_to"]
        return self.values(
            "order",
            client_id=self.client_id,
            external_reference=order["external_reference"],
            channel=channel,
            ship_to_name=to["name"],
            ship_to_address1=to["address1"],
            ship_to_city=to["city"],
            ship_to_state=to["state"],
            ship_to_zip=to["zip"],
            ship_to_phone=to["phone"],
            ship_to_email=to["email"],
            service_level=order["service_level"],
            received_at=self.now,
            released_at=self.now,
            ship_by=self.now,
        )

    def lines(self, order_id: int, order: dict, item_of: dict[str, int]) -> list[list]:
        return [
            self.values(
                "line",
                client_id=self.client_id,
                order_id=order_id,
                sku=line["sku"],
                item_id=item_of[line["sku"]],
                quantity=line["quantity"],
                unit_price=line["unit_price"],
            )
            for line in order["lines"]
        ]

    def event(self, order_id: int, channel: str) -> list:
        return self.values(
            "event",
            client_id=self.client_id,
            order_id=order_id,
            to_status="received",
            reason=f"via {channel}",
            actor_label="API key (bench baseline)",
        )

    def outbox(self, order_id: int, order: dict, channel: str) -> list:
        payload = {
            "order_id": order_id,
            "number": f"ORD-{order_id:07d}",
            "external_reference": order["external_reference"],
            "channel": channel,
            "status": "received",
            "service_level": order["service_level"],
            "warehouse": None,
            "received_at": self.now.isoformat(),
            "ship_by": self.now.isoformat(),
            "shipped_at": None,
            "delivered_at": None,
            "cancelled_at": None,
        }
        return self.values("outbox", client_id=self.client_id, type="order.created", payload=payload)

    def key(self, body: dict) -> list:
        return self.values(
            "key",
            principal="key:bench-baseline",
            key=uuid.uuid4().hex,
            fingerprint="0" * 64,
            method="POST",
            path="/api/v1/orders/",
            state="completed",
            response_status=201,
            response_body=body,
            locked_at=self.now,
        )


def _insert_sql(rows: Rows, name: str, count: int = 1, *, returning: bool = False) -> str:
    columns = rows.columns(name)
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return f"INSERT INTO {rows.table(name)} ({', '.join(columns)}) VALUES {', '.join([one] * count)}" + (
        " RETURNING id" if returning else ""
    )


def _item_ids(client_id: int) -> dict[str, int]:
    from django_scopes import scopes_disabled

    from inventory.models import Item

    with scopes_disabled():
        return dict(Item.objects.filter(client_id=client_id).values_list("sku", "id"))


def _in_threads(work, chunks: list, concurrency: int, database_url: str) -> float:
    """Run ``work(connection, chunk)`` over the chunks in ``concurrency`` threads, each with a
    psycopg2 connection of its own; the wall time."""
    import psycopg2

    pending = iter(chunks)
    lock = threading.Lock()
    failures: list[BaseException] = []
    connections = [psycopg2.connect(database_url) for _ in range(concurrency)]

    def run(conn) -> None:
        try:
            while True:
                with lock:
                    chunk = next(pending, None)
                if chunk is None:
                    return
                work(conn, chunk)
        except BaseException as exc:  # re-raised below
            failures.append(exc)

    try:
        threads = [threading.Thread(target=run, args=(c,)) for c in connections]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        for c in connections:
            c.close()
    if failures:
        raise failures[0]
    return elapsed


def _forget_baseline(database_url: str, rows: Rows, prefix: str) -> None:
    """The baseline's rows are not orders anybody placed: remove them so later figures (and a
    reused database) see only the product's own."""
    import psycopg2

    conn = psycopg2.connect(database_url)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {rows.table('order')} WHERE client_id = %s AND external_reference LIKE %s",
                [rows.client_id, prefix + "%"],
            )
            ids = [r[0] for r in cursor.fetchall()]
            for name in ("line", "event"):
                cursor.execute(f"DELETE FROM {rows.table(name)} WHERE order_id = ANY(%s)", [ids])
            cursor.execute(f"DELETE FROM {rows.table('order')} WHERE id = ANY(%s)", [ids])
            cursor.execute(
                f"DELETE FROM {rows.table('outbox')} WHERE client_id = %s AND type = 'order.created' "
                "AND payload->>'external_reference' LIKE %s",
                [rows.client_id, prefix + "%"],
            )
            cursor.execute(
                f"DELETE FROM {rows.table('key')} WHERE principal = 'key:bench-baseline'",
            )
    finally:
        conn.close()


def _direct_per_order(
    ctx: Context, orders: list[dict], concurrency: int, channel: str
) -> tuple[float, list[float]]:
    """One transaction per order: idempotency record, order, lines, status event, outbox event."""
    from django.utils import timezone

    rows = Rows(ctx.big_client_id, timezone.now())
    item_of = _item_ids(ctx.big_client_id)
    latencies: list[float] = []
    lock = threading.Lock()

    def work(conn, order: dict) -> None:
        t0 = time.perf_counter()
        with conn, conn.cursor() as cursor:
            cursor.execute(_insert_sql(rows, "key"), rows.key(order))
            cursor.execute(_insert_sql(rows, "order", returning=True), rows.order(order, channel))
            order_id = cursor.fetchone()[0]
            lines = rows.lines(order_id, order, item_of)
            cursor.execute(_insert_sql(rows, "line", len(lines)), [v for line in lines for v in line])
            cursor.execute(_insert_sql(rows, "event"), rows.event(order_id, channel))
            cursor.execute(_insert_sql(rows, "outbox"), rows.outbox(order_id, order, channel))
        with lock:
            latencies.append(time.perf_counter() - t0)

    elapsed = _in_threads(work, orders, concurrency, ctx.database_url)
    return len(orders) / elapsed, latencies


def _copy(cursor, table: str, columns: list[str], data: list[list]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in data:
        writer.writerow(
            [
                "\\N"
                if v is None
                else ("t" if v else "f")
                if isinstance(v, bool)
                else v.isoformat()
                if isinstance(v, datetime)
                else v
                for v in row
            ]
        )
    buffer.seek(0)
    cursor.copy_expert(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer
    )


def _direct_copy(ctx: Context, batches: list[list[dict]], concurrency: int, channel: str) -> float:
    """One transaction per batch: ids drawn from the sequence, then COPY of the orders, lines,
    status events and outbox events (and the batch's idempotency record); orders per second."""
    from django.utils import timezone

    rows = Rows(ctx.big_client_id, timezone.now())
    item_of = _item_ids(ctx.big_client_id)
    sequence = f"{rows.table('order')}_id_seq"

    def work(conn, batch: list[dict]) -> None:
        with conn, conn.cursor() as cursor:
            cursor.execute(_insert_sql(rows, "key"), rows.key({"created": len(batch)}))
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, len(batch)])
            ids = [r[0] for r in cursor.fetchall()]
            pairs = list(zip(ids, batch, strict=True))
            _copy(
                cursor,
                rows.table("order"),
                rows.columns("order", with_id=True),
                [[i, *rows.order(o, channel)] for i, o in pairs],
            )
            _copy(
                cursor,
                rows.table("line"),
                rows.columns("line"),
                [line for i, o in pairs for line in rows.lines(i, o, item_of)],
            )
            _copy(
                cursor, rows.table("event"), rows.columns("event"), [rows.event(i, channel) for i, _ in pairs]
            )
            _copy(
                cursor,
                rows.table("outbox"),
                rows.columns("outbox"),
                [rows.outbox(i, o, channel) for i, o in pairs],
            )

    elapsed = _in_threads(work, batches, concurrency, ctx.database_url)
    return sum(len(b) for b in batches) / elapsed


# The figures ----------------------------------------------------------------------------------------

_peaks_seen: dict[str, float] = {}  # the largest gunicorn worker's VmHWM at the end of each intake figure


def _note_peak(key: str, web: Web) -> float:
    peaks = web.peaks_mb()
    _peaks_seen[key] = max(peaks.values(), default=0.0)
    return _peaks_seen[key]


@figure(
    "api_intake",
    "API order intake through gunicorn (orders/s)",
    "the same rows (order, lines, status event, outbox event, idempotency record) inserted by psycopg2, "
    "one transaction per order, same concurrency (orders/s)",
    target="≥ 300 orders/s, p95 < 100 ms",
    check=lambda m: m.ours >= 300 and m.detail["ours"]["p95"] < 100,
)
def api_intake(ctx: Context) -> Measurement:
    plan = PLANS[ctx.scale]
    brand = _brand(ctx)
    orders = _orders(brand, "API", plan.api_warmup + plan.api_orders, seed=11)
    requests = [_json_request(brand, "/api/v1/orders/", o) for o in orders]
    warmup = Phase(requests[: plan.api_warmup], expect=201)
    measured = Phase(requests[plan.api_warmup :], expect=201, seconds=plan.api_seconds)
    with web_server(ctx) as web:
        _, result, cpu = _warm_then_measure(web, warmup, measured, API_CONCURRENCY)
        peak = _note_peak("api_intake", web)
    _require(result, measured, "api_intake")
    ours = result.issued / result.elapsed

    prefix = f"API-BASE-{brand.run}"
    direct = _orders(brand, "API-BASE", plan.api_warmup + result.issued, seed=11)
    rows = Rows(ctx.big_client_id, ctx.now)
    try:
        _direct_per_order(ctx, direct[: plan.api_warmup], API_CONCURRENCY, "api")
        baseline, base_latencies = _direct_per_order(ctx, direct[plan.api_warmup :], API_CONCURRENCY, "api")
    finally:
        _forget_baseline(ctx.database_url, rows, prefix)
    return Measurement(
        ours=round(ours, 1),
        baseline=round(baseline, 1),
        unit="orders/s",
        higher_is_better=True,
        detail={
            "orders": result.issued,
            "warmup_orders": plan.api_warmup,
            "lines": sum(len(o["lines"]) for o in orders[plan.api_warmup :][: result.issued]),
            "concurrency": API_CONCURRENCY,
            "web": f"gunicorn, {WEB_WORKERS} gthread workers x {WEB_THREADS} threads",
            "seconds": round(result.elapsed, 2),
            "statuses": dict(result.statuses),
            "ours": percentiles(result.latencies),
            "baseline": percentiles(base_latencies),
            "web_cpu_ms_per_order": round(cpu * 1000 / max(result.issued, 1), 2),
            "web_worker_peak_mb": peak,
        },
    )


@figure(
    "bulk_intake",
    f"Bulk API intake, batches of {PLANS['full'].bulk_size} (orders/s)",
    "COPY of the same rows by psycopg2, one transaction per batch, same concurrency (orders/s)",
    target="≥ 5,000 orders/s",
    check=lambda m: m.ours >= 5000,
)
def bulk_intake(ctx: Context) -> Measurement:
    plan = PLANS[ctx.scale]
    return _batched_intake(
        ctx,
        key="bulk_intake",
        tag="BULK",
        seed=12,
        batches=plan.bulk_batches,
        size=plan.bulk_size,
        request=lambda brand, batch: _json_request(brand, "/api/v1/orders/bulk/", {"orders": batch}),
        expect=200,
        copy_as="api",
        names=("batches", "batch_size", "per_batch"),
    )


@figure(
    "csv_intake",
    "CSV import through the API (orders/s)",
    "COPY of the same rows by psycopg2, one transaction per file, same concurrency (orders/s)",
    target="≥ 5,000 orders/s",
    check=lambda m: m.ours >= 5000,
)
def csv_intake(ctx: Context) -> Measurement:
    plan = PLANS[ctx.scale]
    return _batched_intake(
        ctx,
        key="csv_intake",
        tag="CSV",
        seed=13,
        batches=plan.csv_files,
        size=plan.csv_orders,
        request=_csv_request,
        expect=201,
        copy_as="csv",
        names=("files", "orders_per_file", "per_file"),
    )


def _batched_intake(
    ctx: Context, *, key, tag, seed, batches, size, request, expect, copy_as, names
) -> Measurement:
    """Bulk and CSV intake: a warm-up batch per request in flight (so that every web worker has
    served one before the clock starts), then ``batches`` of ``size`` orders through gunicorn; the
    baseline COPYs the same rows, batch by batch, after the same warm-up, and is deleted afterwards."""
    brand = _brand(ctx)
    warm = BATCH_CONCURRENCY
    count = (batches + warm) * size
    orders = _orders(brand, tag, count, seed=seed)
    chunks = [orders[i : i + size] for i in range(0, count, size)]
    requests = [request(brand, chunk) for chunk in chunks]
    warmup = Phase(requests[:warm], expect=expect, created_key="created")
    measured = Phase(requests[warm:], expect=expect, created_key="created")
    with web_server(ctx) as web:
        first, result, cpu = _warm_then_measure(web, warmup, measured, BATCH_CONCURRENCY)
        peak = _note_peak(key, web)
    _require(result, measured, key)
    expected = batches * size
    if result.created != expected or first.created != warm * size:
        raise RuntimeError(f"{key}: {result.created} of {expected} orders created")
    ours = result.created / result.elapsed

    prefix = f"{tag}-BASE-{brand.run}"
    direct = _orders(brand, f"{tag}-BASE", count, seed=seed)
    direct_chunks = [direct[i : i + size] for i in range(0, count, size)]
    rows = Rows(ctx.big_client_id, ctx.now)
    try:
        _direct_copy(ctx, direct_chunks[:warm], BATCH_CONCURRENCY, copy_as)
        baseline = _direct_copy(ctx, direct_chunks[warm:], BATCH_CONCURRENCY, copy_as)
    finally:
        _forget_baseline(ctx.database_url, rows, prefix)
    count_name, size_name, latency_name = names
    detail = {"orders": expected, count_name: batches, size_name: size}
    if copy_as == "csv":
        detail["rows_per_file"] = round(sum(len(o["lines"]) for o in orders) / (batches + warm))
    detail |= {
        "concurrency": BATCH_CONCURRENCY,
        "seconds": round(result.elapsed, 2),
        latency_name: percentiles(result.latencies),
        "web_cpu_ms_per_order": round(cpu * 1000 / max(expected, 1), 3),
        "web_worker_peak_mb": peak,
    }
    return Measurement(
        ours=round(ours, 1),
        baseline=round(baseline, 1),
        unit="orders/s",
        higher_is_better=True,
        detail=detail,
    )


# Memory ---------------------------------------------------------------------------------------------

_bare_peak: float | None = None


def _bare_django_peak(ctx: Context) -> float:
    """VmHWM of the interpreter with Django set up (settings, apps and models loaded) and nothing
    else: the floor any of our processes starts from."""
    global _bare_peak
    from django.conf import settings

    if _bare_peak is None:
        code = (
            "import django, pathlib; django.setup(); "
            "print([l for l in pathlib.Path('/proc/self/status').read_text().splitlines() "
            "if l.startswith('VmHWM')][0].split()[1])"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "fulfillment.settings",
                "DEBUG": "false",
                "SECRET_KEY": settings.SECRET_KEY,
            },
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        _bare_peak = round(int(out.stdout.strip().splitlines()[-1]) / 1024, 1)
    return _bare_peak


def _staff_session(ctx: Context) -> str:
    """A session cookie for an operator admin (what logging in through the form leaves)."""
    from django.test import Client as HttpClient

    from accounts.actors import Actor
    from accounts.enums import Role
    from accounts.services import user_invite

    user = user_invite(
        actor=Actor.system("bench"),
        email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
        role=Role.OPERATOR_ADMIN,
        full_name="Bench Operator",
        send_email=False,
    )
    http = HttpClient()
    http.force_login(user)
    return http.cookies["sessionid"].value


def _previous_quarter(now: datetime) -> tuple[int, int]:
    quarter = (now.month - 1) // 3 + 1
    return (now.year, quarter - 1) if quarter > 1 else (now.year - 1, 4)


@figure(
    "web_memory",
    "Peak memory of a web worker after intake and heavy pages",
    "the same interpreter with Django set up and nothing served (VmHWM)",
    target="< 250 MB",
    check=lambda m: m.ours < 250,
)
def web_memory(ctx: Context) -> Measurement:
    plan = PLANS[ctx.scale]
    brand = _brand(ctx)
    cookie = _staff_session(ctx)
    year, quarter = _previous_quarter(ctx.now)
    api = [_json_request(brand, "/api/v1/orders/", o) for o in _orders(brand, "MEM", plan.api_warmup * 2, 21)]
    batches = 1 if ctx.scale == "small" else WEB_WORKERS  # a batch and a file per worker
    bulk_orders = _orders(brand, "MEMBULK", plan.bulk_size * batches, 22)
    bulk = [
        _json_request(brand, "/api/v1/orders/bulk/", {"orders": bulk_orders[i : i + plan.bulk_size]})
        for i in range(0, len(bulk_orders), plan.bulk_size)
    ]
    csv_orders = _orders(brand, "MEMCSV", plan.csv_orders * batches, 23)
    files = [
        _csv_request(brand, csv_orders[i : i + plan.csv_orders])
        for i in range(0, len(csv_orders), plan.csv_orders)
    ]
    api_key = {"authorization": f"Bearer {brand.api_secret}"}
    staff = {"cookie": f"sessionid={cookie}"}
    pages = [
        ("/api/v1/orders/?page_size=50", api_key),
        (f"/api/v1/orders/?page_size=50&status=delivered&client={brand.client_id}", api_key),
        ("/console/", staff),
        (f"/console/clients/{brand.client_id}/qbr/{year}/q{quarter}/", staff),
        (f"/console/clients/{brand.client_id}/dashboard/", staff),
    ]
    # Each page as many times as there are workers, one request per worker at a time.
    gets = [Request(path, b"", headers, "GET") for path, headers in pages for _ in range(WEB_WORKERS)]
    with web_server(ctx) as web:
        generate_load(web, [Phase(api, expect=201)], API_CONCURRENCY)
        generate_load(web, [Phase(bulk, expect=200), Phase(files, expect=201)], BATCH_CONCURRENCY)
        [result] = generate_load(web, [Phase(gets, expect=200)], WEB_WORKERS)
        _require(result, Phase(gets, expect=200), "web_memory pages")
        peaks = web.peaks_mb()
        master = _peaks_mb([web.proc.pid])
    ours = max(peaks.values())
    return Measurement(
        ours=ours,
        baseline=_bare_django_peak(ctx),
        unit="MB",
        detail={
            "workers_mb": sorted(peaks.values(), reverse=True),
            "master_mb": master.get(web.proc.pid),
            "served": {
                "api_orders": len(api),
                "bulk_orders": len(bulk_orders),
                "csv_orders": len(csv_orders),
                "pages": [p for p, _ in pages],
                "page_requests": len(gets),
                "page_latency": percentiles(result.latencies),
            },
            "peak_after_intake_figures_mb": dict(_peaks_seen),
        },
    )


def _celery_app(url: str):
    from celery import Celery

    app = Celery("bench-intake", broker=url, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], task_default_queue=QUEUE)
    return app


def _queue_allocations(ctx: Context, app, limit: int) -> int:
    """With nothing queued by intake (``--only worker_memory``): queue the allocation of the
    newest received orders, as intake would have."""
    from django_scopes import scopes_disabled

    from orders.enums import OrderStatus
    from orders.models import Order

    with scopes_disabled():
        orders = list(
            Order.objects.filter(status=OrderStatus.RECEIVED, ship_by__isnull=False)
            .order_by("-pk")
            .values_list("pk", "client_id")[:limit]
        )
    for pk, client_id in reversed(orders):
        app.send_task("orders.tasks.allocate_order", args=[pk, client_id])
    return len(orders)


@figure(
    "worker_memory",
    "Peak memory of a Celery worker child after allocation, KPI rollup and alert sweep",
    "the same interpreter with Django set up and nothing run (VmHWM)",
    target="< 300 MB",
    check=lambda m: m.ours < 300,
)
def worker_memory(ctx: Context) -> Measurement:
    plan = PLANS[ctx.scale]
    baseline = _bare_django_peak(ctx)
    b = broker()
    env = _production_env(ctx)
    app = _celery_app(b.url)
    proc = None
    try:
        queued = b.queued()
        if queued == 0:
            queued = _queue_allocations(ctx, app, plan.worker_tasks)
        # The queue is a list consumed from its right end: keep the oldest tasks, drop the rest.
        b.redis.ltrim(QUEUE, -plan.worker_tasks, -1)
        kept = b.queued()
        # The nightly rollup (one day) and the order alert sweep, on a queue of their own that the
        # worker reads beside the allocations' (so they run first, not after the backlog).
        app.send_task("reporting.tasks.rollup_kpis", kwargs={"days_back": 1}, queue=REPORTS_QUEUE)
        app.send_task("reporting.alert_tasks.sweep_order_alerts", queue=REPORTS_QUEUE)
        log = Path(env["FULFILLMENT_VAR_DIR"]) / "worker.log"
        started = time.monotonic()
        proc = _popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "fulfillment",
                "worker",
                "--concurrency",
                "1",
                "--pool",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "WARNING",
                "-Q",
                f"{REPORTS_QUEUE},{QUEUE}",
            ],
            env,
            log,
        )
        deadline = started + plan.worker_seconds
        peaks: dict[int, float] = {}
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited ({proc.returncode}):\n{_tail(log)}")
            peaks.update(_peaks_mb(_children(proc.pid)))
            waiting = b.redis.llen(REPORTS_QUEUE) + b.queued() + b.unacked()
            if waiting == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        seconds = time.monotonic() - started
        reports_left = b.redis.llen(REPORTS_QUEUE)
        left = b.queued() + b.unacked()
        master = _peaks_mb([proc.pid]).get(proc.pid)
    finally:
        _stop(proc)
        _release_broker()
    if not peaks:
        raise RuntimeError("the worker started no child process")
    if reports_left:
        raise RuntimeError(
            f"worker_memory: the rollup and the sweep did not start in {plan.worker_seconds} s"
        )
    return Measurement(
        ours=max(peaks.values()),
        baseline=baseline,
        unit="MB",
        detail={
            "children_mb": sorted(peaks.values(), reverse=True),
            "master_mb": master,
            "ran": [
                "reporting.tasks.rollup_kpis(days_back=1)",
                "reporting.alert_tasks.sweep_order_alerts",
                f"{kept} of the {queued} tasks intake queued (the oldest)",
            ],
            "tasks_left_unfinished": left,
            "seconds": round(seconds, 1),
        },
    )
