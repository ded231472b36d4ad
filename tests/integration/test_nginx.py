"""A real nginx (Debian's package) in front of a small upstream, with auth_request to gatehouse:
no token 401, bad token 401, token lacking the permission 403, good token the upstream's 200 with
the X-Auth-* headers passed through. The nginx configuration is docs/nginx-forward-auth.conf, run
as it is: identity headers come only from Gatehouse in every block, credentials (Authorization,
X-API-Key, ?api_key=) never reach the upstream nor the access log, and spellings of /admin/ are
refused like /admin/ itself. docs/nginx-portal.conf, also run as it is, keeps the same credentials
and the portal's session cookie from the application and its log."""
import http.client
import http.server
import json
import pathlib
import threading
import time

import pytest
import requests
import requests.adapters

from conftest import auth, free_port, start_nginx

TEMPLATE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "nginx-forward-auth.conf"
PORTAL_TEMPLATE = TEMPLATE.with_name("nginx-portal.conf")
# Gatehouse's own route map agrees with nginx's /admin/ block; "janitor" may delete users without
# being an admin, so a forged X-Auth-User-Role: admin can be told from the real one.
POLICY = {"roles": {"janitor": ["users:read", "users:delete"]},
          "routes": [{"method": "*", "path": "/admin/*", "permissions": ["users:delete"]}]}
FORGED = {"X-Auth-User-Id": "4242", "X-Auth-User-Email": "root@example.com", "X-Auth-User-Role": "admin",
          "X-Auth-Scopes": "users:read users:write users:delete roles:manage",
          "X-Auth-Amr": "pwd otp hwk", "X-Auth-Client": "trusted-dashboard"}


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def stack(make_server, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(POLICY))
    gate = make_server({"GATEHOUSE_POLICY_FILE": str(policy), "TRUSTED_PROXIES": "127.0.0.1"})
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    access_log = tmp_path / "access.log"
    conf = TEMPLATE.read_text()
    conf = conf.replace("127.0.0.1:8000", f"127.0.0.1:{gate.port}")
    conf = conf.replace("127.0.0.1:9000", f"127.0.0.1:{upstream.server_address[1]}")
    conf = conf.replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{port}")
    conf = conf.replace("/var/log/nginx/gatehouse-app.access.log", str(access_log))
    proc = start_nginx(tmp_path, port, conf)
    base = f"http://127.0.0.1:{port}"
    yield gate, base, access_log
    proc.terminate()
    proc.wait(timeout=10)
    upstream.shutdown()


def janitor(gate):
    """A user whose role has users:delete (the /admin/ block's permission) without being admin."""
    r = gate.cli("user", "create", "--email", "janitor@example.com", "--username", "janitor", "--role", "janitor",
                 "--password-stdin", stdin="Passw0rd!x\n")
    assert r.returncode == 0, r.stderr
    return gate.token("janitor")


def raw_get(base, target, headers):
    """A GET with the request target exactly as given (requests would tidy it)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", target, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def test_nginx_auth_request(stack):
    gate, base, _ = stack
    gate.register("web@example.com", "webuser")
    token = gate.token("webuser")

    r = requests.get(base + "/app/page")
    assert r.status_code == 401
    r = requests.get(base + "/app/page", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    r = requests.get(base + "/admin/panel", headers=auth(token))  # needs users:delete
    assert r.status_code == 403
    r = requests.get(base + "/app/page", headers=auth(token))
    assert r.status_code == 200
    seen = r.json()
    assert seen["path"] == "/app/page"
    assert seen["headers"]["x-auth-user-email"] == "web@example.com"
    assert seen["headers"]["x-auth-user-role"] == "user"
    assert seen["headers"]["x-auth-user-id"].isdigit()
    assert "users:read" in seen["headers"]["x-auth-scopes"].split()


def test_nginx_with_api_key_in_query(stack):
    gate, base, _ = stack
    gate.register("q@example.com", "querykey")
    key = requests.post(gate.url("/api/v1/api-keys"), json={"name": "q", "scopes": ["users:read"]},
                        headers=auth(gate.token("querykey"))).json()["key"]
    r = requests.get(base + "/app/data", params={"api_key": key})
    assert r.status_code == 200 and r.json()["headers"]["x-auth-scopes"] == "users:read"
    assert requests.get(base + "/app/data", params={"api_key": key[:-2] + "zz"}).status_code == 401


def test_nginx_forged_identity_headers_never_reach_the_app(stack):
    gate, base, _ = stack
    gate.register("plain@example.com", "plainweb")
    plain = gate.token("plainweb")
    uid = requests.get(gate.url("/api/v1/auth/me"), headers=auth(plain)).json()["id"]
    r = requests.get(base + "/app/page", headers={**auth(plain), **FORGED})
    assert r.status_code == 200
    seen = r.json()["headers"]
    assert seen["x-auth-user-role"] == "user" and seen["x-auth-user-email"] == "plain@example.com"
    assert seen["x-auth-user-id"] == str(uid)
    assert set(seen["x-auth-scopes"].split()) == {"users:read", "posts:read", "posts:write"}
    # A password sign-in's method, and no client: nginx passes no header at all for an empty value,
    # and never the request's own.
    assert seen["x-auth-amr"] == "pwd" and "x-auth-client" not in seen
    # The /admin/ block too, for someone allowed in.
    token = janitor(gate)
    uid = requests.get(gate.url("/api/v1/auth/me"), headers=auth(token)).json()["id"]
    r = requests.get(base + "/admin/panel", headers={**auth(token), **FORGED})
    assert r.status_code == 200
    seen = r.json()["headers"]
    assert seen["x-auth-user-role"] == "janitor" and seen["x-auth-user-email"] == "janitor@example.com"
    assert seen["x-auth-user-id"] == str(uid)
    assert set(seen["x-auth-scopes"].split()) == {"users:read", "users:delete"}
    assert seen["x-auth-amr"] == "pwd" and "x-auth-client" not in seen
    # An API key signed in no one: no method, and the forged ones are not passed either.
    key = requests.post(gate.url("/api/v1/api-keys"), json={"name": "k"}, headers=auth(plain)).json()["key"]
    seen = requests.get(base + "/app/page", headers={"X-API-Key": key, **FORGED}).json()["headers"]
    assert seen["x-auth-user-id"] != "4242" and "x-auth-amr" not in seen and "x-auth-client" not in seen


def test_nginx_credentials_never_reach_the_app_nor_the_access_log(stack):
    gate, base, access_log = stack
    gate.register("cred@example.com", "credweb")
    token = gate.token("credweb")
    key = requests.post(gate.url("/api/v1/api-keys"), json={"name": "web"}, headers=auth(token)).json()["key"]
    admin_token = janitor(gate)
    admin_key = requests.post(gate.url("/api/v1/api-keys"), json={"name": "web"},
                              headers=auth(admin_token)).json()["key"]
    seen = []
    for path, kwargs in (("/app/page", {"headers": auth(token)}),
                         ("/app/page", {"headers": {"X-API-Key": key}}),
                         ("/app/data?a=1&api_key=" + key + "&b=2", {}),
                         ("/app/data?api_key=" + key, {}),
                         ("/admin/panel", {"headers": auth(admin_token)}),
                         ("/admin/panel", {"headers": {"X-API-Key": admin_key}}),
                         ("/admin/panel?x=1&api_key=" + admin_key, {})):
        r = requests.get(base + path, **kwargs)
        assert r.status_code == 200, (path, r.status_code)
        seen.append(r.json())
    for s in seen:
        assert "authorization" not in s["headers"] and "x-api-key" not in s["headers"], s
        assert "api_key" not in s["path"] and key not in json.dumps(s) and admin_key not in json.dumps(s), s
    assert [s["path"] for s in seen[2:4]] == ["/app/data?a=1&b=2", "/app/data"]
    r = requests.get(base + "/app/img", headers={**auth(token), "Referer": f"{base}/app/data?api%5Fkey={key}"})
    assert r.status_code == 200 and "referer" not in r.json()["headers"], r.text
    assert seen[-1]["path"] == "/admin/panel?x=1"
    # A second key, or one whose name is %-escaped, would slip past the filter: refused instead.
    for query in (f"api_key={key}&api_key={key}", f"a=1&api%5Fkey={key}", f"api_key={key}&%61pi_key={key}"):
        assert raw_get(base, "/app/data?" + query, {}) == 400, query
    deadline = time.monotonic() + 5
    while (log := access_log.read_text()).count("\n") < 10 and time.monotonic() < deadline:
        time.sleep(0.05)  # nginx writes a request's line after it has sent the answer
    assert log.count("\n") >= 10 and "/app/data" in log and "/admin/panel" in log
    for secret in (token, admin_token, key, admin_key, key.split("_", 2)[2], "api_key", "Bearer"):
        assert secret not in log, secret


def test_nginx_spellings_of_admin_paths_are_refused(stack):
    gate, base, _ = stack
    gate.register("spell@example.com", "spellweb")
    headers = auth(gate.token("spellweb"))
    targets = ["/admin/panel", "/%61dmin/panel", "//admin/panel", "/static/%2e%2e/admin/panel",
               "/ADMIN/panel", "/admin;x=1/panel"]
    assert {t: raw_get(base, t, headers) for t in targets} == {t: 403 for t in targets}
    assert raw_get(base, "/app/page", headers) == 200


class SourceAdapter(requests.adapters.HTTPAdapter):
    """Connections from one loopback address (the client is not nginx's own 127.0.0.1)."""

    def __init__(self, source):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def test_a_client_sent_x_forwarded_for_is_not_its_address(stack):
    """Found by an outside attack: the shipped configuration passed the client's own
    X-Forwarded-For to /verify unchanged, and with nginx trusted (as the docs say to set), the
    client chose the address Gatehouse logged, audited and rate-limited. nginx now adds the
    address it saw; the forged hop is left of it, and not believed."""
    gate, base, _ = stack
    token = janitor(gate)
    session = requests.Session()
    session.mount("http://", SourceAdapter("127.0.0.2"))
    for i, forged in enumerate(("198.51.100.66", "198.51.100.66, 203.0.113.5", "not-an-address")):
        rid = f"xff-forged-{i}"
        r = session.get(base + "/", headers={**auth(token), "X-Forwarded-For": forged, "X-Request-Id": rid})
        assert r.status_code == 200, r.text
        lines = [line for line in gate.log_text().splitlines() if f"request_id={rid} " in line]
        assert lines and all(" client=127.0.0.2 " in line for line in lines), lines


@pytest.fixture
def portal_stack(make_server, tmp_path):
    """docs/nginx-portal.conf as it is, in front of the echo application: (gate, base, log)."""
    port = free_port()
    gate = make_server({"TRUSTED_PROXIES": "127.0.0.1", "ALLOWED_RETURN_URLS": f"http://127.0.0.1:{port}"})
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    access_log = tmp_path / "access.log"
    conf = PORTAL_TEMPLATE.read_text()
    for documented, actual in (("127.0.0.1:8000", f"127.0.0.1:{gate.port}"),
                               ("127.0.0.1:9000", f"127.0.0.1:{upstream.server_address[1]}"),
                               ("listen 127.0.0.1:8080", f"listen 127.0.0.1:{port}"),
                               ("/var/log/nginx/gatehouse-portal-app.access.log", str(access_log))):
        assert documented in conf, documented
        conf = conf.replace(documented, actual)
    proc = start_nginx(tmp_path, port, conf)
    yield gate, f"http://127.0.0.1:{port}", access_log
    proc.terminate()
    proc.wait(timeout=10)
    upstream.shutdown()


def key_of(gate, username):
    gate.register(f"{username}@example.com", username)
    r = requests.post(gate.url("/api/v1/api-keys"), json={"name": "link"}, headers=auth(gate.token(username)))
    assert r.status_code == 201, r.text
    return r.json()["key"]


def test_the_portal_conf_keeps_keys_and_the_session_cookie_from_the_app_and_its_log(portal_stack):
    """Found by an outside attack: docs/nginx-portal.conf passed ?api_key= on to the application
    and into nginx's access log, and took out only the first of two gatehouse_session cookies."""
    from test_pages import signed_in
    gate, base, access_log = portal_stack
    key = key_of(gate, "portalkey")
    gate.register("portalcookie@example.com", "portalcookie")
    session = signed_in(gate, "portalcookie", password="Passw0rd!x").session
    seen = []
    for path, cookie in (("/app/data?a=1&api_key=" + key + "&b=2", None),
                         ("/app/data?api_key=" + key, None),
                         ("/app/page", f"gatehouse_session={session}; theme=dark"),
                         ("/app/page", f"gatehouse_session={session}; theme=dark; gatehouse_session={session}"),
                         ("/app/page", f"a=1; gatehouse_session={session};gatehouse_session={session}")):
        r = requests.get(base + path, headers={"Cookie": cookie} if cookie else {}, allow_redirects=False)
        assert r.status_code == 200, (path, cookie, r.status_code)
        seen.append(r.json())
    assert [s["path"] for s in seen[:2]] == ["/app/data?a=1&b=2", "/app/data"]
    assert [s["headers"]["x-auth-user-email"] for s in seen] == ["portalkey@example.com"] * 2 + [
        "portalcookie@example.com"] * 3
    assert [s["headers"].get("cookie") for s in seen[2:]] == ["theme=dark", "theme=dark", "a=1"]
    # A page opened through the link names it in Referer on each request it makes (a review).
    referer = f"{base}/app/data?a=1&API_KEY={key}"
    r = requests.get(base + "/app/img", headers={"Cookie": f"gatehouse_session={session}", "Referer": referer})
    assert r.status_code == 200 and "referer" not in r.json()["headers"], r.text
    r = requests.get(base + "/app/img", headers={"Cookie": f"gatehouse_session={session}",
                                                 "Referer": base + "/app/data?a=1"})
    assert r.json()["headers"]["referer"] == base + "/app/data?a=1", r.text
    for s in seen:
        assert key not in json.dumps(s) and session not in json.dumps(s), s
    # What the maps cannot take out is refused, not passed on.
    for target, cookie in ((f"/app/data?api_key={key}&api_key={key}", None),
                           (f"/app/data?a=1&api%5Fkey={key}", None),
                           ("/app/page", "; ".join([f"gatehouse_session={session}"] * 3))):
        assert raw_get(base, target, {"Cookie": cookie} if cookie else {}) == 400, (target, cookie)
    deadline = time.monotonic() + 5
    while (log := access_log.read_text()).count("\n") < 8 and time.monotonic() < deadline:
        time.sleep(0.05)  # nginx writes a request's line after it has sent the answer
    assert log.count("\n") >= 8 and "/app/data" in log and "/app/page" in log, log
    for secret in (key, key.split("_", 2)[2], session, "api_key", "gatehouse_session"):
        assert secret not in log, secret


def test_a_link_with_someone_elses_key_does_not_swap_a_signed_in_browser(portal_stack):
    """Found by an outside attack: a key in the original URI outranked the browser's session
    cookie, so a link https://app/...?api_key=<attacker's key> made a signed-in victim pass as the
    attacker, and the victim's data went into the attacker's account. The cookie now comes
    first; the key still counts without one."""
    from test_pages import signed_in
    gate, base, _ = portal_stack
    key = key_of(gate, "linkowner")
    gate.register("linkvictim@example.com", "linkvictim")
    victim = signed_in(gate, "linkvictim", password="Passw0rd!x").session
    r = requests.get(base + "/app/upload?api_key=" + key, headers={"Cookie": f"gatehouse_session={victim}"})
    assert r.status_code == 200 and r.json()["headers"]["x-auth-user-email"] == "linkvictim@example.com", r.text
    r = requests.get(base + "/app/upload?api_key=" + key)
    assert r.status_code == 200 and r.json()["headers"]["x-auth-user-email"] == "linkowner@example.com", r.text
    # A browser without a sign-in following the link does not become the key's owner either (a
    # review: login CSRF); it is refused, and the key does not travel on to the portal.
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for navigation in ({"Sec-Fetch-Mode": "navigate", "Accept": browser_accept}, {"Accept": browser_accept}):
        r = requests.get(base + "/app/upload?api_key=" + key, headers=navigation, allow_redirects=False)
        assert r.status_code == 401 and key not in r.headers.get("Location", ""), (navigation, r.status_code)
    # A program whose Accept names text/html (Java's HttpURLConnection's default) keeps its key (a
    # second review), as do a script's fetch and an image (Sec-Fetch-Mode cors, no-cors).
    for program in ({"Accept": "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"},
                    {"Sec-Fetch-Mode": "cors", "Accept": browser_accept}, {"Sec-Fetch-Mode": "no-cors"}):
        r = requests.get(base + "/app/upload?api_key=" + key, headers=program)
        assert r.status_code == 200 and r.json()["headers"]["x-auth-user-email"] == "linkowner@example.com", program
    # Gatehouse itself, asked as nginx asks: the same order.
    original = {"X-Original-Method": "GET", "X-Original-URI": "/app/upload?api_key=" + key}
    r = requests.get(gate.url("/api/v1/auth/verify"), headers={**original, "Cookie": f"gatehouse_session={victim}"})
    assert r.status_code == 200 and r.headers["X-Auth-User-Email"] == "linkvictim@example.com", r.headers
    # A key in the headers is the caller's own choice, not a link's: it still comes first.
    r = requests.get(gate.url("/api/v1/auth/verify"),
                     headers={"X-API-Key": key, "Cookie": f"gatehouse_session={victim}"})
    assert r.status_code == 200 and r.headers["X-Auth-User-Email"] == "linkowner@example.com", r.headers
