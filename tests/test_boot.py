"""`make run` on the embedded default: a fresh var/ directory, no services, web + worker + beat.

Runs ``scripts/run.sh`` the way ``make run`` does (migrate, seed the demo, collect static files,
honcho), signs in as a demo user, then stops it with Ctrl-C and checks nothing is left behind.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.boot

ROOT = Path(__file__).resolve().parent.parent
DEMO_LOGIN = ("admin@demo.fulfillment.test", "demo-pass-2026")  # accounts/management/commands/seed_demo.py
# Everything that would point the platform at services instead of the embedded default.
SERVICE_VARS = (
    "DATABASE_URL",
    "DATABASE_REPLICA_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "PYTEST_XDIST_WORKER",
    "DJANGO_SETTINGS_MODULE",
    "HOST",  # the Procfile binds ${HOST:-127.0.0.1}; the test talks to 127.0.0.1
)
BOOT_TIMEOUT = 90
STOP_TIMEOUT = 20
# honcho prefixes each line with the time and the process: "23:30:28 worker.1 | ...".
WORKER_READY = re.compile(r"^\S+ worker\.1\s+\|.*celery@\S+ ready\.", re.MULTILINE)
BEAT_STARTED = re.compile(r"^\S+ beat\.1\s+\|.*beat: Starting", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_with_env(marker: str) -> list[int]:
    """Pids of live processes whose environment holds ``marker`` (honcho puts each child in its
    own process group, so the group alone does not find a straggler)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


class Boot:
    def __init__(self, tmp_path: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.var_dir = tmp_path / "var"
        self.log_path = tmp_path / "run.log"
        env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
        env.update(FULFILLMENT_VAR_DIR=str(self.var_dir), PORT=str(self.port), PYTHONUNBUFFERED="1")
        self.env_marker = f"FULFILLMENT_VAR_DIR={self.var_dir}"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(ROOT / "scripts" / "run.sh")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar)
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 60) -> str:
        return "\n--- run.sh output (tail) ---\n" + "\n".join(self.output().splitlines()[-lines:])

    def get(self, path: str, **kwargs):
        return self.request(path, **kwargs)

    def request(self, path: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            response = self.opener.open(req, timeout=15)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.geturl(), exc.read().decode(errors="replace")
        with response:
            return response.status, response.geturl(), response.read().decode(errors="replace")

    def wait_until(self, what: str, check, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if self.proc.poll() is not None:
                pytest.fail(f"run.sh exited ({self.proc.returncode}) before {what}.{self.tail()}")
            time.sleep(0.5)
        pytest.fail(f"Not {what} after {timeout:.0f} s.{self.tail()}")

    def healthy(self) -> bool:
        try:
            status, _, body = self.get("/healthz")
        except (OSError, urllib.error.URLError):
            return False
        return status == 200 and json.loads(body) == {"status": "ok"}

    def stop(self) -> str | None:
        """Ctrl-C the whole process group; returns what went wrong, if anything."""
        problem = None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problem = f"run.sh did not stop within {STOP_TIMEOUT} s of SIGINT"
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while (left := processes_with_env(self.env_marker)) and time.monotonic() < deadline:
            time.sleep(0.2)
        if left:
            problem = problem or f"processes left running after Ctrl-C: {left}"
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self._log.close()
        return problem


@pytest.fixture
def boot(tmp_path):
    booted = Boot(tmp_path)
    try:
        yield booted
    finally:
        booted.stop()


def test_make_run_boots_web_worker_and_beat_on_a_fresh_var_dir_and_stops_on_ctrl_c(boot):
    assert not boot.var_dir.exists() or not any(boot.var_dir.iterdir())
    boot.wait_until("healthy (GET /healthz)", boot.healthy, BOOT_TIMEOUT)
    assert (boot.var_dir / "db.sqlite3").exists(), boot.tail()

    status, _, body = boot.get("/readyz")
    assert status == 200, f"/readyz: {status} {body}{boot.tail()}"
    assert json.loads(body)["status"] == "ok"

    status, _, page = boot.get("/accounts/login/")
    assert status == 200, boot.tail()
    assert 'name="username"' in page
    assert 'name="password"' in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, page

    email, password = DEMO_LOGIN
    status, url, console = boot.request(
        "/accounts/login/",
        data={"username": email, "password": password, "csrfmiddlewaretoken": token.group(1), "next": ""},
        headers={"Referer": f"{boot.base}/accounts/login/"},
    )
    assert status == 200, f"{status} {url}{boot.tail()}"
    assert urllib.parse.urlsplit(url).path == "/console/", url
    assert "Acme Apparel" in console
    assert email in console

    boot.wait_until("worker ready", lambda: WORKER_READY.search(boot.output()), 60)
    boot.wait_until("beat started", lambda: BEAT_STARTED.search(boot.output()), 60)
    output = boot.output()
    assert "Demo data is loaded." in output
    assert "web.1" in output
    running = processes_with_env(boot.env_marker)
    assert len(running) >= 4, running  # honcho, gunicorn, worker, beat: what the check below must find gone

    problem = boot.stop()
    assert problem is None, problem + boot.tail()
    assert boot.proc.returncode is not None
    assert not listening(boot.port), f"something still listens on {boot.port}{boot.tail()}"
    assert "Traceback" not in boot.output(), boot.tail(200)
