"""Gatehouse as an OpenID Provider, black-box, against real relying parties: npm's openid-client 6
and oauth4webapi 3 (panva's OpenID-certified RP libraries, the strictest there are; tests/oidc/
rp_*.mjs, run with Node), Debian's python3-authlib, and Gatehouse itself (a second instance signing
in through the first with its own OIDC client code). Each runs the code flow with PKCE S256, state
and nonce through the portal's sign-in and consent forms (over HTTP), then the library's own code
exchange and ID token validation (RFC 9207 iss included), userinfo, refresh, RP-initiated logout,
revocation and client credentials. A library that refuses one of our answers fails the test."""
import base64
import html
import json
import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest
import requests

from conftest import _direct, api_document, auth, free_port, start_nginx

HERE = os.path.dirname(os.path.abspath(__file__))
RP_DIR = os.path.join(os.path.dirname(HERE), "oidc")
NODE = shutil.which("node") or "/usr/bin/node"
PASSWORD = "Interop-Passw0rd!"
SCOPE = "openid profile email offline_access"


# --- a provider with one client and one user ------------------------------------------------------

def provider(make_server, env=None):
    """A gatehouse server whose issuer is its own http://127.0.0.1:<port>."""
    s = make_server(start=False)
    s.env.update(GATEHOUSE_PUBLIC_URL=s.base, OP_RATE_LIMIT="100000/minute")
    s.env.update(env or {})
    return s.start()


def create_client(server, name, redirect_uris, post_logout=(), grants=(), extra=()):
    args = ["client", "create", "--name", name, "--json"]
    for uri in redirect_uris:
        args += ["--redirect-uri", uri]
    for uri in post_logout:
        args += ["--post-logout-redirect-uri", uri]
    for grant in grants:
        args += ["--grant", grant]
    r = server.cli(*args, *extra)
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)
    assert made["client_id"] and (made.get("client_secret") or made["public"]), made
    return made


def new_user(server, username):
    r = server.register(f"{username}@example.com", username, PASSWORD)
    assert r.status_code == 201, r.text
    return f"{username}@example.com"


ALL_GRANTS = ("authorization_code", "refresh_token", "client_credentials")


@pytest.fixture
def op(make_server):
    """(server, client, redirect_uri, post_logout_uri, username): a provider, a confidential
    client allowed every grant, and a user. The redirect URIs are on a loopback port nobody
    listens on: the relying parties read the redirect's Location instead."""
    server = provider(make_server)
    rp = f"http://127.0.0.1:{free_port()}"
    client = create_client(server, "Interop RP", [rp + "/callback"], [rp + "/signed-out"], ALL_GRANTS)
    public = create_client(server, "Interop SPA", [rp + "/callback"], extra=["--public"])
    client["public_client_id"] = public["client_id"]
    new_user(server, "interop")
    return server, client, rp + "/callback", rp + "/signed-out", "interop"


# --- the npm relying parties ----------------------------------------------------------------------

def need_npm(package):
    if not os.path.isdir(os.path.join(RP_DIR, "node_modules", package)):
        if os.environ.get("GATEHOUSE_SKIP_NPM") == "1":
            pytest.skip(f"GATEHOUSE_SKIP_NPM=1 and {package} is not installed")
        pytest.fail(f"{package} is not installed: npm ci --prefix tests/oidc")


def run_rp(script, op, client_auth):
    server, client, redirect_uri, post_logout, username = op
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "GH_ISSUER": server.base, "GH_CLIENT_ID": client["client_id"],
           "GH_CLIENT_SECRET": client["client_secret"], "GH_REDIRECT_URI": redirect_uri,
           "GH_POST_LOGOUT_REDIRECT_URI": post_logout, "GH_USERNAME": username,
           "GH_PASSWORD": PASSWORD, "GH_CLIENT_AUTH": client_auth,
           "GH_PUBLIC_CLIENT_ID": client["public_client_id"],
           "NO_PROXY": "*"}
    r = subprocess.run([NODE, os.path.join(RP_DIR, script)], cwd=RP_DIR, env=env,
                       capture_output=True, text=True, timeout=120)
    try:
        summary = json.loads(r.stdout)
    except ValueError:
        summary = None
    assert r.returncode == 0 and summary and summary.get("ok"), (
        f"{script} failed (exit {r.returncode}):\n{r.stdout}\n{r.stderr}\n"
        f"server log (tail):\n{server.log_text()[-3000:]}")
    return summary


def steps_of(summary):
    return {s["step"]: s for s in summary["steps"]}


@pytest.mark.parametrize("client_auth", ["client_secret_basic", "client_secret_post"])
def test_openid_client_runs_the_whole_flow(op, client_auth):
    need_npm("openid-client")
    steps = steps_of(run_rp("rp_openid_client.mjs", op, client_auth))
    assert list(steps) == ["discovery", "authorize", "code_exchange", "userinfo", "introspection",
                           "prompt_none", "refresh", "logout", "after_logout", "revocation",
                           "client_credentials"]
    assert steps["authorize"]["pages"] == ["login", "consent"]
    claims = set(steps["code_exchange"]["id_token_claims"])
    assert {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "acr"} <= claims
    assert {"email", "preferred_username"} <= set(steps["userinfo"]["claims"])
    assert steps["after_logout"]["error"] == "login_required"
    assert steps["revocation"] == {"step": "revocation", "access_active": False, "refresh_error": "invalid_grant"}


@pytest.mark.parametrize("client_auth", ["client_secret_post", "client_secret_basic"])
def test_oauth4webapi_runs_the_whole_flow(op, client_auth):
    need_npm("oauth4webapi")
    steps = steps_of(run_rp("rp_oauth4webapi.mjs", op, client_auth))
    assert list(steps) == ["discovery", "authorize", "code_exchange", "access_token_rfc9068", "userinfo",
                           "introspection", "refresh", "logout", "after_logout", "revocation",
                           "client_credentials", "public_client"]
    assert steps["public_client"]["pages"] == ["login", "consent"]
    assert {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"} <= set(
        steps["access_token_rfc9068"]["claims"])
    assert steps["after_logout"]["error"] == "login_required"
    assert steps["revocation"]["access_active"] is False


# --- a browser over HTTP, for the Python relying parties -----------------------------------------

class Browser:
    """A person's browser as far as these flows need one: manual redirects, and cookies kept per
    origin whatever their Secure flag (Chromium trusts http://127.0.0.1 as it trusts https, and the
    two gatehouse instances of a test stand for two sites, so their cookies must not mix here as
    they would on one host). Through `requests`: the gatehouse answers are checked against
    /openapi.json."""

    def __init__(self, verify=True):
        self.verify = verify
        self.jars = {}
        self.trail = []

    def request(self, method, url, data=None):
        u = urllib.parse.urlsplit(url)
        origin = f"{u.scheme}://{u.netloc}"
        jar = self.jars.setdefault(origin, {})
        headers = {"Accept": "text/html"}
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        if data is not None:
            headers["Origin"] = origin  # a same-origin form post
        r = requests.request(method, url, data=data, headers=headers, allow_redirects=False,
                             verify=self.verify, timeout=30)
        for line in r.raw.headers.getlist("Set-Cookie"):
            pair, _, attrs = line.partition(";")
            name, _, value = pair.strip().partition("=")
            if value == "" or re.search(r"(?i)max-age=0(;|$)", attrs.replace(" ", "")):
                jar.pop(name, None)
            else:
                jar[name] = value
        self.trail.append((method, url, r.status_code, r.headers.get("Location")))
        return r

    def follow(self, url, username=None, password=PASSWORD, decision="allow", stop=None):
        """From `url` through the portal's sign-in and consent forms, following redirects, until
        `stop(url)` says a redirect's target is where the flow ends; returns (that URL, the
        portal pages shown [(name, response)])."""
        pages = []
        r = self.request("GET", url)
        for _ in range(25):
            if r.status_code in (301, 302, 303, 307, 308):
                target = urllib.parse.urljoin(r.url, r.headers["Location"])
                if stop(target):
                    return target, pages
                r = self.request("GET", target)
                continue
            assert r.status_code == 200, (r.status_code, r.url, r.text[:800])
            form = form_of(r.text, "login-form")
            if form:
                pages.append(("login", r))
                assert username, f"asked to sign in at {r.url}"
                action, fields = form
                r = self.request("POST", urllib.parse.urljoin(r.url, action),
                                 {**fields, "username": username, "password": password})
                continue
            form = form_of(r.text, "consent-form")
            if form:
                pages.append(("consent", r))
                action, fields = form
                r = self.request("POST", urllib.parse.urljoin(r.url, action), {**fields, "decision": decision})
                continue
            raise AssertionError(f"an unexpected page at {r.url}: {r.text[:800]}")
        raise AssertionError(f"too many redirects: {self.trail}")


def form_of(page, form_id):
    """(action, hidden fields) of the form with this id, or None."""
    m = re.search(r'<form[^>]*id="%s"[^>]*>(.*?)</form>' % re.escape(form_id), page, re.S)
    if not m:
        return None
    action = html.unescape(re.search(r'action="([^"]*)"', m.group(0)).group(1))
    fields = {html.unescape(n): html.unescape(v) for n, v in
              re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"', m.group(1))}
    return action, fields


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def unchecked_get(server, path):
    """A JSON answer read without the /openapi.json check (urllib, not requests)."""
    with _direct.open(server.url(path), timeout=10) as r:
        return json.load(r)


def form_action_sources(csp):
    m = re.search(r"(?:^|;)\s*form-action\s+([^;]*)", csp or "")
    return m.group(1).split() if m else []


# --- authlib (Debian's python3-authlib) -----------------------------------------------------------

def test_authlib_runs_the_whole_flow(op):
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.jose import JsonWebKey, JWTClaims, jwt
    from authlib.oidc.core import CodeIDToken, UserInfo

    server, client, redirect_uri, post_logout, username = op
    # Discovery read around the document check: its drift is test_discovery_and_introspection_
    # match_the_document's to report (every other answer below goes through requests, and is
    # checked against /openapi.json).
    meta = unchecked_get(server, "/.well-known/openid-configuration")
    assert meta["issuer"] == server.base
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())
    rp = OAuth2Session(client["client_id"], client["client_secret"], scope=SCOPE, redirect_uri=redirect_uri,
                       code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
    browser = Browser()

    def authorize(person=None, **extra):
        verifier, nonce = generate_token(48), generate_token(20)
        url, state = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                                 nonce=nonce, **extra)
        back, pages = browser.follow(url, username=person, stop=lambda u: u.startswith(redirect_uri))
        return back, pages, verifier, nonce, state

    def id_token_claims(token, nonce):
        claims = jwt.decode(token["id_token"], keys, claims_cls=CodeIDToken,
                            claims_options={"iss": {"essential": True, "value": server.base}},
                            claims_params={"nonce": nonce, "client_id": client["client_id"],
                                           "access_token": token["access_token"]})
        claims.validate(leeway=5)  # aud, azp, exp, iat, nonce, at_hash, auth_time
        return claims

    # The code flow: sign-in and consent pages, back with code, state and iss (RFC 9207).
    back, pages, verifier, nonce, state = authorize(username)
    assert [name for name, _ in pages] == ["login", "consent"]
    consent_csp = pages[1][1].headers["Content-Security-Policy"]
    assert any(redirect_uri.startswith(src) for src in form_action_sources(consent_csp)), consent_csp
    q = query_of(back)
    assert q["state"] == state and q["iss"] == server.base and q["code"], back
    token = rp.fetch_token(meta["token_endpoint"], authorization_response=back, code_verifier=verifier,
                           state=state)  # authlib checks the state
    assert token["token_type"].lower() == "bearer" and token["refresh_token"] and token["expires_in"] > 0
    claims = id_token_claims(token, nonce)
    assert jwt.decode(token["id_token"], keys).header["kid"] in [k["kid"] for k in keys.as_dict()["keys"]]
    assert claims["auth_time"] <= claims["iat"] and claims["acr"] in ("1", "2") and claims["amr"], dict(claims)
    sub = claims["sub"]

    # The access token, as a resource server checks it (RFC 9068).
    at = jwt.decode(token["access_token"], keys, claims_cls=JWTClaims, claims_options={
        "iss": {"essential": True, "value": server.base}, "aud": {"essential": True, "value": server.base},
        "sub": {"essential": True, "value": sub}, "exp": {"essential": True}, "iat": {"essential": True},
        "jti": {"essential": True}, "client_id": {"essential": True, "value": client["client_id"]}})
    at.validate(leeway=5)
    assert at.header["typ"].lower() in ("at+jwt", "application/at+jwt") and at.header["alg"] == "RS256"

    # userinfo, with the token in the header.
    r = rp.get(meta["userinfo_endpoint"])
    assert r.status_code == 200, r.text
    info = UserInfo(r.json())
    assert info["sub"] == sub and info["preferred_username"] == username and info["email"] == f"{username}@example.com"

    # Refresh: rotated, a new ID token for the same subject (OIDC Core §12.2).
    refreshed = rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]
    if "id_token" in refreshed:
        again = jwt.decode(refreshed["id_token"], keys, claims_cls=JWTClaims, claims_options={
            "iss": {"essential": True, "value": server.base}, "aud": {"essential": True, "value": client["client_id"]},
            "sub": {"essential": True, "value": sub}})
        again.validate(leeway=5)
        assert again["auth_time"] == claims["auth_time"]
    r = rp.get(meta["userinfo_endpoint"])  # the session now holds the refreshed token
    assert r.status_code == 200 and r.json()["sub"] == sub
    # The refresh token already used is refused (and, reused, ends the grant).
    stale = requests.post(meta["token_endpoint"], data={"grant_type": "refresh_token",
                                                        "refresh_token": token["refresh_token"]},
                          auth=(client["client_id"], client["client_secret"]))
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant", stale.text

    # RP-initiated logout with id_token_hint: no question, back to the registered URI with state.
    logout_state = generate_token(16)
    end = meta["end_session_endpoint"] + "?" + urllib.parse.urlencode(
        {"id_token_hint": token["id_token"], "post_logout_redirect_uri": post_logout, "state": logout_state})
    landed, shown = browser.follow(end, stop=lambda u: u.startswith(post_logout))
    assert shown == [] and query_of(landed) == {"state": logout_state}, landed
    # The portal session is over: prompt=none answers login_required (with iss).
    back, shown, *_ = authorize(prompt="none")
    q = query_of(back)
    assert (q.get("error"), q.get("iss")) == ("login_required", server.base), back

    # A fresh grant, then revocation (RFC 7009) of its refresh token ends it.
    back, pages, verifier, nonce, state = authorize(username)
    assert [name for name, _ in pages] == ["login"]  # consent was remembered
    fresh = rp.fetch_token(meta["token_endpoint"], authorization_response=back, code_verifier=verifier,
                           state=state)  # authlib checks the state
    id_token_claims(fresh, nonce)
    r = rp.revoke_token(meta["revocation_endpoint"], token=fresh["refresh_token"], token_type_hint="refresh_token")
    assert r.status_code == 200, r.text
    r = requests.post(meta["token_endpoint"], data={"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]},
                      auth=(client["client_id"], client["client_secret"]))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    r = requests.get(meta["userinfo_endpoint"], headers=auth(fresh["access_token"]))
    assert r.status_code == 401 and "invalid_token" in r.headers["WWW-Authenticate"], (r.status_code, r.text)

    # Client credentials, client_secret_post this time.
    machine = OAuth2Session(client["client_id"], client["client_secret"], token_endpoint_auth_method="client_secret_post")
    t = machine.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert "id_token" not in t and "refresh_token" not in t
    mc = jwt.decode(t["access_token"], keys, claims_cls=JWTClaims, claims_options={
        "iss": {"essential": True, "value": server.base}, "sub": {"essential": True, "value": client["client_id"]},
        "client_id": {"essential": True, "value": client["client_id"]}})
    mc.validate(leeway=5)
    # A machine's token is no user's: userinfo refuses it.
    r = requests.get(meta["userinfo_endpoint"], headers=auth(t["access_token"]))
    assert r.status_code in (401, 403), (r.status_code, r.text)


# --- Gatehouse against itself ---------------------------------------------------------------------

@pytest.fixture
def tls(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def two_gatehouses(make_server, tmp_path, tls):
    """(a, a_issuer, b, cert): instance A, the provider, behind nginx's TLS on loopback (an
    external provider must be https://), and instance B, its own database, with A configured as
    the external OpenID provider "gate-a" and registered as A's client through A's CLI."""
    cert, key = tls
    a = make_server(start=False)
    port = free_port()
    a_issuer = f"https://127.0.0.1:{port}"
    a.env.update(GATEHOUSE_PUBLIC_URL=a_issuer, OP_RATE_LIMIT="100000/minute")
    a.start()
    nginx = start_nginx(tmp_path, port, f"""
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location / {{
      proxy_pass http://127.0.0.1:{a.port};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto https;
    }}
  }}""", name="nginx-a")
    try:
        b = make_server(start=False)
        (tmp_path / "b").mkdir()
        callback = b.url("/api/v1/auth/oauth/gate-a/callback")
        client = create_client(a, "Gatehouse B", [callback])
        b.env.update({
            "DATABASE_URL": f"sqlite:///{tmp_path}/b/gatehouse.db", "GATEHOUSE_PUBLIC_URL": b.base,
            "OIDC_PROVIDERS": "gate-a", "OIDC_GATE_A_ISSUER": a_issuer,
            "OIDC_GATE_A_CLIENT_ID": client["client_id"], "OIDC_GATE_A_CLIENT_SECRET": client["client_secret"],
            "OIDC_CA_FILE": cert, "FRONTEND_URL": "http://frontend.test"})
        b.start()
        yield a, a_issuer, b, cert
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)


def verified_user(server, username, password=PASSWORD):
    """username@example.com, made by an operator who vouches for the address (--email-verified);
    its user id."""
    r = server.cli("user", "create", "--email", f"{username}@example.com", "--username", username,
                   "--role", "user", "--password-stdin", "--email-verified", stdin=password + "\n")
    assert r.returncode == 0, r.stderr
    return requests.get(server.url("/api/v1/auth/me"), headers=auth(server.token(username, password))).json()["id"]


def test_gatehouse_signs_in_through_gatehouse(two_gatehouses):
    a, a_issuer, b, cert = two_gatehouses
    # The same person at both: A vouches for the address in its ID token (email_verified), and B's
    # account has it verified too, so B links A's identity to that account (docs/oidc.md).
    a_id = verified_user(a, "alice")
    b_id = verified_user(b, "alice", "B-side-Passw0rd!")
    browser = Browser(verify=cert)

    # B's API flow: B sends the browser to A, A's portal signs the person in and asks consent for
    # "Gatehouse B", A sends the code back to B's callback with iss, B (its OIDC client: discovery,
    # code exchange with PKCE, the ID token checked against A's JWKS) hands the frontend a one-time
    # code, which B trades for B's own tokens.
    landing, pages = browser.follow(b.url("/api/v1/auth/oauth/gate-a"), username="alice",
                                    stop=lambda u: u.startswith("http://frontend.test/"))
    assert [name for name, _ in pages] == ["login", "consent"]
    assert "Gatehouse B" in pages[1][1].text
    callback = b.url("/api/v1/auth/oauth/gate-a/callback")
    to_b = [loc for _, _, _, loc in browser.trail if loc and loc.startswith(callback + "?")]
    assert len(to_b) == 1 and query_of(to_b[0])["iss"] == a_issuer and query_of(to_b[0])["code"], browser.trail
    assert landing.startswith("http://frontend.test/auth/callback#code="), (landing, b.log_text()[-3000:])
    r = requests.post(b.url("/api/v1/auth/oauth/exchange"), json={"code": landing.split("#code=", 1)[1]})
    assert r.status_code == 200, r.text
    tokens = r.json()
    me = requests.get(b.url("/api/v1/auth/me"), headers=auth(tokens["access_token"])).json()
    assert (me["id"], me["email"], me["username"]) == (b_id, "alice@example.com", "alice"), me
    r = requests.get(b.url("/api/v1/auth/identities"), headers=auth(tokens["access_token"]))
    assert r.status_code == 200, r.text
    identities = r.json()
    # The identity B keeps is A's subject for alice (A's user id) and the address A vouched for.
    assert [(i["provider"], i["subject"], i["email"]) for i in identities["items"]] == [
        ("gate-a", str(a_id), "alice@example.com")], identities
    # A counts B's grant among alice's sessions ("OpenID client: Gatehouse B").
    r = requests.get(a.url("/api/v1/auth/sessions"), headers=auth(a.token("alice", PASSWORD)))
    assert r.status_code == 200 and "OpenID client: Gatehouse B" in r.text, r.text

    # B's portal flow in the same browser: still signed in at A and consent remembered, so A
    # answers at once; B signs the browser in (its session cookie) as the same linked user.
    landed, pages = browser.follow(b.url("/ui/login/external/gate-a"),
                                   stop=lambda u: u.startswith(b.url("/ui/")) and "/ui/login" not in u)
    assert pages == [], [name for name, _ in pages]
    assert urllib.parse.urlsplit(landed).path == "/ui/account", landed
    assert browser.jars[b.base].get("gatehouse_session"), browser.jars[b.base]
    account = browser.request("GET", landed)
    assert account.status_code == 200 and "alice@example.com" in account.text, account.text[:500]
    again = requests.get(b.url("/api/v1/auth/identities"), headers=auth(tokens["access_token"])).json()
    assert again == identities  # the same identity found, not a second one

# --- the document ---------------------------------------------------------------------------------

def test_discovery_and_introspection_match_the_document(op):
    """The two answers every relying party above reads, against the server's own /openapi.json
    (read here with urllib, so that the autouse check does not fail the other tests for them)."""
    server, client, *_ = op
    doc = api_document(server)
    problems = {}
    with _direct.open(server.url("/.well-known/openid-configuration"), timeout=10) as r:
        problems["discovery"] = doc.check("GET", "/.well-known/openid-configuration", r.status,
                                          r.headers["Content-Type"], r.read())
    basic = "Basic " + base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()

    def post(path, form):
        req = urllib.request.Request(server.url(path), data=urllib.parse.urlencode(form).encode(),
                                     headers={"Authorization": basic,
                                              "Content-Type": "application/x-www-form-urlencoded"})
        with _direct.open(req, timeout=10) as r:
            return r.status, r.headers["Content-Type"], r.read()

    status, ctype, body = post("/oauth2/token", {"grant_type": "client_credentials"})
    assert status == 200
    problems["token"] = doc.check("POST", "/oauth2/token", status, ctype, body)
    token = json.loads(body)["access_token"]
    status, ctype, body = post("/oauth2/introspect", {"token": token})
    assert status == 200 and json.loads(body)["active"] is True
    problems["introspection"] = doc.check("POST", "/oauth2/introspect", status, ctype, body)
    assert not any(problems.values()), problems
