"""Fixtures that run the real gatehouse binary on a free loopback port with a temporary data
directory, and talk HTTP to it. Needs GATEHOUSE_BIN (the built binary).

Every response a test receives through `requests` from a gatehouse server it started is checked
against that server's /openapi.json (see "Every response against the document" below)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid

import jsonschema
import pytest
import requests
import requests.adapters

from ports import free_port

BIN = os.environ.get("GATEHOUSE_BIN", "")
SECRET = "integration-secret-0123456789-abcdefghijklmnop"  # 45 bytes ≥ 32 for HS256
KEK = "integration-key-encryption-key-0123456789"
ADMIN_PASSWORD = "Adm1n-Passw0rd!"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "timing: compares response times or races a short window; scripts/test.sh runs "
                   "these alone, after the others ran in parallel")


def notify_listener(path=None, timeout=None):
    """A datagram socket where a service manager would listen for sd_notify messages, and the
    NOTIFY_SOCKET value naming it: `path`, or a fresh abstract name (no file, no length limit to
    mind)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if path is None:
        name = f"gatehouse-test-{os.getpid()}-{uuid.uuid4().hex}"
        listener.bind("\0" + name)
        value = "@" + name
    else:
        listener.bind(path)
        value = path
    listener.settimeout(timeout)
    return listener, value


def fd_limit_fault(tmp_path):
    """Variables for a server whose accept(), accept4() and socket() fail with EMFILE while the
    file `fault` (returned beside them) exists: tests/integration/fd_limit_fault.c, preloaded.
    The real open-file limit reached breaks the sanitizers' own checks, which need descriptors."""
    shim = tmp_path / "fd_limit_fault.so"
    built = subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(shim),
                            os.path.join(os.path.dirname(__file__), "fd_limit_fault.c"), "-ldl"],
                           capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    fault = tmp_path / "fd-limit-reached"
    asan = os.environ.get("ASAN_OPTIONS", "detect_leaks=1")
    return {"LD_PRELOAD": str(shim), "GH_TEST_FD_FAULT": str(fault),
            # The preloaded library comes before ASan's runtime in the list.
            "ASAN_OPTIONS": f"{asan}:verify_asan_link_order=0"}, fault


class Server:
    """One gatehouse process. `env` adds or overrides variables."""

    def __init__(self, tmp_path, env=None):
        self.tmp = tmp_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SECRET_KEY": SECRET,
            # Nodes on one database share it, as docs/deployment.md asks; test_keys.py sets ""
            # to use the generated <data dir>/key_encryption_key.
            "KEY_ENCRYPTION_KEY": KEK,
            "BCRYPT_ROUNDS": "10",
            "DATABASE_URL": f"sqlite:///{tmp_path}/data/gatehouse.db",
            "GATEHOUSE_LISTEN": f"127.0.0.1:{self.port}",
            # Most tests log in far more often than the seed's 5/minute; the rate-limit tests
            # restore the defaults by setting these to "".
            "LOGIN_RATE_LIMIT": "100000/minute",
            "REFRESH_RATE_LIMIT": "100000/minute",
            "REGISTER_RATE_LIMIT": "100000/minute",
            "OIDC_RATE_LIMIT": "100000/minute",
            # Two I/O threads whatever the machine (the default is half the cores, one on the
            # 2-core CI machine), so connections on other contexts than the main thread's, the
            # sweeper's and shutdown's posts to them, are exercised by every test.
            "GATEHOUSE_IO_THREADS": "2",
            "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=1"),
            "UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS", "halt_on_error=1"),
        }
        self.env.update(env or {})
        self.proc = None
        self.notify = None
        self.preexec = None  # run in the child before the server starts (limits)
        self.log_path = tmp_path / f"server-{self.port}.log"

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        env = self.env
        self._close_notify()
        if "NOTIFY_SOCKET" not in self.env:
            # The server says READY=1 here once it listens (as to systemd, src/app/service_notify),
            # so a start is not waited for in polling steps.
            self.notify, value = notify_listener()
            env = {**self.env, "NOTIFY_SOCKET": value}
        self.proc = subprocess.Popen([BIN, "serve"], env=env, stdout=self.log, stderr=self.log,
                                     preexec_fn=self.preexec)
        _checked_servers[self.base] = self
        if wait:
            self.wait_ready()
        return self

    def _close_notify(self):
        if self.notify is not None:
            self.notify.close()
        self.notify = None

    def serve_to_exit(self, timeout=60):
        """`serve` with this server's settings, for a start that must stop: its CompletedProcess
        (subprocess.TimeoutExpired when it is still running after `timeout` seconds)."""
        return subprocess.run([BIN, "serve"], env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def wait_listening(self, timeout=30):
        """Until the server listens (READY=1), ready or not (/readyz may say 503)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not listen: " + self.log_text())

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        if self.notify is not None:
            self.notify.settimeout(0.1)
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    if b"READY=1" in self.notify.recv(4096).split(b"\n"):
                        self._close_notify()  # the rest (STOPPING=1) is not waited for
                        break
                except socket.timeout:
                    pass
        # Then /readyz, which also waits for what a start may leave pending (Redis reachable).
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
        _checked_servers.pop(self.base, None)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        self._close_notify()
        return self.proc.returncode if self.proc else None

    def kill(self):
        _checked_servers.pop(self.base, None)
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        self._close_notify()

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


def body_of(r):
    """A response's JSON body, or its text when it is not JSON."""
    try:
        return r.json()
    except ValueError:
        return r.text


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def interleaved_timings(calls, rounds, after_round=None):
    """Each of `calls` (a name to a function of the round number that makes one request) timed
    once per round, the rounds interleaved so that a slow moment of the machine hits every group
    alike; `after_round(i)` runs untimed after round i. A name to its [(seconds, response)]."""
    runs = {name: [] for name in calls}
    for i in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            r = call(i)
            runs[name].append((time.perf_counter() - start, r))
        if after_round:
            after_round(i)
    return runs


class Wire:
    """One raw connection and a strict reader: status line, headers, Content-Length body, so bytes
    left over from a mis-framed response show up as a broken next response."""

    def __init__(self, server, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _more(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"timed out waiting for a response; have {self.buf[:200]!r}") from None
        if not data:
            raise AssertionError(f"connection closed; have {self.buf[:200]!r}")
        self.buf += data

    def response(self, head=False):
        while b"\r\n\r\n" not in self.buf:
            self._more()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        m = re.fullmatch(r"HTTP/1\.[01] (\d{3})( .*)?", lines[0])
        assert m, f"not a status line: {lines[0]!r}"
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            assert sep and name and name == name.strip(), f"bad header line {line!r}"
            headers[name.lower()] = value.strip()
        status = int(m.group(1))
        length = 0
        if not head and status >= 200 and status not in (204, 304):
            assert "content-length" in headers, headers
            length = int(headers["content-length"])
        while len(self.buf) < length:
            self._more()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def closes_without_more(self, wait=3):
        """True when the server closes the connection and sends nothing more."""
        self.sock.settimeout(wait)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return self.buf == b""
                self.buf += data
        except socket.timeout:
            return False
        except ConnectionResetError:
            return self.buf == b""

    def close(self):
        self.sock.close()


# --- every response against the document ---------------------------------------------------------
# Each response that `requests` receives from a running gatehouse server started by these fixtures
# (a Server's base URL) is checked against that server's /openapi.json: the path template and method
# must be documented (otherwise the request is not checked: hidden routes such as /docs, unknown
# paths, 405s), the status must be declared for that operation (no "default"), and a JSON body must
# match the declared schema, $refs resolved in the whole document (JSON Schema 2020-12, formats
# date-time and email asserted), and carry no property that its schema does not list (unless the
# schema lists none, or allows more with additionalProperties). Mismatches are collected and fail
# the test at teardown. Not checked: other hosts (nginx in front, OpenID providers), raw sockets
# and http.client, streamed responses, non-JSON bodies where the document declares no schema.

# Answered by the HTTP layer (src/http/server.cpp) before any route is chosen, so no operation
# declares them: their body must still be the document's ErrorDetail.
PRE_ROUTING_STATUSES = {
    413: "body over GATEHOUSE_MAX_BODY_BYTES",
    431: "request headers over the limit",
    503: "over GATEHOUSE_MAX_CONNECTIONS",
}

_checked_servers = {}  # base URL -> the Server running there
_doc_lock = threading.Lock()
_failures_lock = threading.Lock()
_failures = []  # of the running test
_counts = {"checked": 0, "not in the document": 0}
_last_document = None  # the most recent document fetched, for a server that serves none
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy

_FORMATS = jsonschema.FormatChecker(formats=())
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@_FORMATS.checks("date-time")
def _is_date_time(value):
    return not isinstance(value, str) or bool(_RFC3339.match(value))


@_FORMATS.checks("email")
def _is_email(value):
    return not isinstance(value, str) or re.fullmatch(r"[^@\s]+@[^@\s]+", value) is not None


class ApiDocument:
    """An OpenAPI 3.1 document, to find the operation of a request and check its response."""

    def __init__(self, doc):
        self.doc = doc
        self.resolver = jsonschema.RefResolver(base_uri="", referrer=doc)
        self.operations = []  # (number of parameters, regex, template, method, operation)
        for template, item in doc.get("paths", {}).items():
            parts = re.split(r"(\{[^}/]+\})", template)
            regex = re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p)
                                             for p in parts) + "$")
            for method, op in item.items():
                if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
                    self.operations.append((template.count("{"), regex, template, method, op))
        # Concrete paths win over templated ones (OpenAPI 3.1 §4.8.8.2).
        self.operations.sort(key=lambda o: o[0])

    def operation(self, method, path):
        for _, regex, template, m, op in self.operations:
            if m == method.lower() and regex.match(path):
                return template, op
        return None

    def schema_errors(self, schema, instance):
        validator = jsonschema.Draft202012Validator(schema, resolver=self.resolver, format_checker=_FORMATS)
        try:
            errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
        except (jsonschema.exceptions.RefResolutionError, jsonschema.exceptions.SchemaError,
                jsonschema.exceptions.UnknownType) as e:
            return [f"the document's schema is broken: {e}"]
        # The first error of each kind at each place: items/0/id and items/1/id are one drift.
        first = {}
        for e in errors:
            where = "/".join(map(str, e.absolute_path)) or "(body)"
            first.setdefault((re.sub(r"(^|/)\d+(?=/|$)", r"\1*", where), e.validator), f"{where}: {e.message}")
        return list(first.values())

    def resolve(self, schema):
        while isinstance(schema, dict) and "$ref" in schema:
            schema = self.resolver.resolve(schema["$ref"])[1]
        return schema if isinstance(schema, dict) else {}

    def undocumented(self, schema, instance, where="(body)"):
        """Properties of `instance` that `schema` does not name, where it names its properties
        without allowing others: a body that says more than its document is drift too."""
        schema = self.resolve(schema)
        branches = [schema] + [self.resolve(b) for key in ("allOf", "anyOf", "oneOf")
                               for b in schema.get(key, [])]
        found = []
        if isinstance(instance, dict):
            named = {}
            for b in branches:
                named.update(b.get("properties", {}))
            open_ended = not named or any(
                b.get(k, False) is not False
                for b in branches for k in ("additionalProperties", "unevaluatedProperties", "patternProperties"))
            for key, value in instance.items():
                if key in named:
                    found += self.undocumented(named[key], value, f"{where}/{key}" if where != "(body)" else key)
                elif not open_ended:
                    found.append(f"{where}: property {key!r} is not in the document")
        elif isinstance(instance, list):
            for b in branches:
                if "items" in b:
                    for item in instance:
                        found += self.undocumented(b["items"], item, f"{where}/*")
                    break
        return list(dict.fromkeys(found))

    def check(self, method, path, status, content_type, body):
        """What is wrong with this response (empty when nothing), or None when the document does
        not describe the route."""
        found = self.operation(method, path)
        if found is None:
            return None
        template, op = found
        responses = op.get("responses", {})
        declared = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        if declared is None and status in PRE_ROUTING_STATUSES:
            declared = {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorDetail"}}}}
        if declared is None:
            return [f"status {status} is not declared (declared: {', '.join(responses)})"]
        media = (content_type or "").split(";")[0].strip().lower()
        is_json = media == "application/json" or media.endswith("+json")
        content = declared.get("content")
        if not content:
            if body and is_json:
                return [f"a body of type {media}, but the document declares no content for {status}"]
            return []
        if media not in content:
            return [f"Content-Type {media or '(none)'} is not declared (declared: {', '.join(content)})"]
        schema = content[media].get("schema")
        if schema is None or not is_json:
            return []
        try:
            instance = json.loads(body)
        except ValueError as e:
            return [f"the body is not JSON: {e}"]
        return self.schema_errors(schema, instance) or self.undocumented(schema, instance)


def api_document(server):
    """The document `server` serves, fetched once; a document fetched from another server of this
    run when it serves none (DOCS_ENABLED=false); None when neither."""
    global _last_document
    with _doc_lock:
        if getattr(server, "api_document", None) is None:
            try:
                # Not through requests: this fetch is not a response to check.
                with _direct.open(server.url("/openapi.json"), timeout=10) as r:
                    server.api_document = ApiDocument(json.load(r))
                _last_document = server.api_document
            except (OSError, ValueError):
                return _last_document
        return server.api_document


def check_response(response):
    request = response.request
    url = urllib.parse.urlsplit(request.url)
    server = _checked_servers.get(f"{url.scheme}://{url.netloc}")
    if server is None or server.proc is None or server.proc.poll() is not None:
        return
    doc = api_document(server)
    if doc is None:
        return
    problems = doc.check(request.method, url.path, response.status_code,
                         response.headers.get("Content-Type"), response.content)
    with _failures_lock:
        _counts["checked" if problems is not None else "not in the document"] += 1
    if problems:
        excerpt = response.content[:300].decode("utf-8", "replace")
        with _failures_lock:
            _failures.append(f"{request.method} {url.path} -> {response.status_code}: "
                             + "; ".join(problems[:10]) + f"\n    body: {excerpt}")


_adapter_send = requests.adapters.HTTPAdapter.send


def _checked_send(self, request, stream=False, **kwargs):
    response = _adapter_send(self, request, stream=stream, **kwargs)
    if not stream:  # reading a streamed body here would change what the test sees
        check_response(response)
    return response


# Every request made with requests (requests.get, a Session, authlib's OAuth2Session, the Server
# helpers) ends in HTTPAdapter.send, once per response (each redirect hop included).
requests.adapters.HTTPAdapter.send = _checked_send


@pytest.fixture(autouse=True)
def responses_match_the_document():
    """Fails the test, at teardown, for each response that did not match the document."""
    with _failures_lock:
        _failures.clear()
    yield
    with _failures_lock:
        found = list(_failures)
        _failures.clear()
    if found:
        pytest.fail(f"{len(found)} response(s) do not match /openapi.json:\n  " + "\n  ".join(found),
                    pytrace=False)


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


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # a pytest-xdist worker: report to the controller
        session.config.workeroutput["openapi_counts"] = dict(_counts)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    for key, n in getattr(node, "workeroutput", {}).get("openapi_counts", {}).items():
        _counts[key] += n


def pytest_terminal_summary(terminalreporter):
    if _counts["checked"] or _counts["not in the document"]:
        terminalreporter.write_line(
            f"/openapi.json: {_counts['checked']} responses checked, "
            f"{_counts['not in the document']} to routes it does not describe")
