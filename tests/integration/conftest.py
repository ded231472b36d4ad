"""Fixtures that run the real gatehouse binary on a free loopback port with a temporary data
directory, and talk HTTP to it. Needs GATEHOUSE_BIN (the built binary)."""
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import uuid

import pytest
import requests

BIN = os.environ.get("GATEHOUSE_BIN", "")
SECRET = "integration-secret-0123456789-abcdefghijklmnop"  # 45 bytes ≥ 32 for HS256
ADMIN_PASSWORD = "Adm1n-Passw0rd!"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One gatehouse process. `env` adds or overrides variables."""

    def __init__(self, tmp_path, env=None):
        self.tmp = tmp_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SECRET_KEY": SECRET,
            "BCRYPT_ROUNDS": "10",
            "DATABASE_URL": f"sqlite:///{tmp_path}/data/gatehouse.db",
            "GATEHOUSE_LISTEN": f"127.0.0.1:{self.port}",
            # Most tests log in far more often than the seed's 5/minute; the rate-limit tests
            # restore the defaults by setting these to "".
            "LOGIN_RATE_LIMIT": "100000/minute",
            "REFRESH_RATE_LIMIT": "100000/minute",
            "REGISTER_RATE_LIMIT": "100000/minute",
            "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=1"),
            "UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS", "halt_on_error=1"),
        }
        self.env.update(env or {})
        self.proc = None
        self.log_path = tmp_path / f"server-{self.port}.log"

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN, "serve"], env=self.env, stdout=self.log, stderr=self.log)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_text()}")
            try:
                if requests.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become ready: " + self.log_text())

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def url(self, path):
        return self.base + path

    def cli(self, *args, stdin=None):
        return subprocess.run([BIN, *args], env=self.env, input=stdin, capture_output=True, text=True, timeout=120)

    # --- helpers -------------------------------------------------------------------------------
    def register(self, email, username, password="Passw0rd!x"):
        return requests.post(self.url("/api/v1/auth/register"),
                             json={"email": email, "username": username, "password": password})

    def login(self, username, password="Passw0rd!x", **extra):
        return requests.post(self.url("/api/v1/auth/login"),
                             data={"username": username, "password": password, **extra})

    def token(self, username, password="Passw0rd!x"):
        r = self.login(username, password)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def admin_token(self):
        r = self.cli("user", "create", "--email", "root@example.com", "--username", "root",
                     "--role", "admin", "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        return self.token("root@example.com", ADMIN_PASSWORD)


def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(env=None, start=True):
        s = Server(tmp_path, env)
        servers.append(s)
        return s.start() if start else s

    yield make
    for s in servers:
        code = s.stop()
        # A clean SIGTERM shutdown exits 0; sanitizer reports would make it non-zero.
        if code not in (0, None, -9):
            pytest.fail(f"server exited with {code}: {s.log_text()[-3000:]}")


@pytest.fixture
def server(make_server):
    return make_server()


# --- shared services for several nodes (scripts/services.sh starts PostgreSQL) -------------------
PG_URL = os.environ.get("GATEHOUSE_TEST_POSTGRES_URL", "")
PG_BIN = os.environ.get("GATEHOUSE_TEST_PG_BIN", "")
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def fresh_database():
    """A new empty database on the test PostgreSQL server; its URL."""
    u = urllib.parse.urlparse(PG_URL)
    name = "gh_it_" + uuid.uuid4().hex[:12]
    subprocess.run([f"{PG_BIN}/createdb", "-h", u.hostname, "-p", str(u.port), "-U", u.username, name],
                   check=True, capture_output=True, timeout=60)
    return f"postgresql://{u.username}@{u.hostname}:{u.port}/{name}"


class Redis:
    """A private redis-server that a test can stop and start again on the same port."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.dir = tmp_path / "redis"
        self.dir.mkdir()
        self.proc = None
        self.url = f"redis://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen([REDIS, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                      "--appendonly", "no", "--dir", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).returncode != 0:
            assert time.time() < deadline, "redis did not start"
            time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def start_nginx(tmp_path, port, http_body, name="nginx"):
    """A real nginx in the foreground with `http_body` inside its http block, its files under
    tmp_path; returns the process once 127.0.0.1:port accepts connections."""
    conf = f"""
daemon off;
master_process off;
pid {tmp_path}/{name}.pid;
error_log {tmp_path}/{name}-error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {tmp_path}/body;
  proxy_temp_path {tmp_path}/proxy;
  fastcgi_temp_path {tmp_path}/fastcgi;
  uwsgi_temp_path {tmp_path}/uwsgi;
  scgi_temp_path {tmp_path}/scgi;
{http_body}
}}
"""
    (tmp_path / f"{name}.conf").write_text(conf)
    proc = subprocess.Popen([NGINX, "-c", str(tmp_path / f"{name}.conf"), "-p", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline, "nginx did not start"
            time.sleep(0.05)
