"""A small relying party (an OpenID client) that drives Gatehouse as an OpenID Provider the way a
browser and a client's back end would: it registers itself with `gatehouse client create --json`,
sends a browser (a requests.Session) to /oauth2/authorize, signs in through the portal's form at
/ui/login, answers the consent page, trades the code at /oauth2/token and checks the ID token
against the provider's JWKS with PyJWT.

Only the provider's own addresses are followed; a redirect anywhere else (the client's
redirect_uri) ends the walk and is returned for the test to read."""
import base64
import hashlib
import html
import json
import re
import secrets
import urllib.parse

import jwt
import requests

PASSWORD = "Passw0rd!x"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def pkce_pair(verifier=None):
    """(code_verifier, S256 code_challenge)."""
    verifier = verifier or secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(url):
    """A URL's query as a dict of single values (asserting none repeats)."""
    pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    out = dict(pairs)
    assert len(out) == len(pairs), f"a parameter repeats in {url}"
    return out


def hidden_fields(page):
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page)}


def form_field(page, name):
    m = re.search(r'name="%s"[^>]*value="([^"]*)"' % re.escape(name), page)
    return html.unescape(m.group(1)) if m else None


def form_action(page, form_id):
    """The action of the form with id `form_id` on a page."""
    m = re.search(r'<form method="post" action="([^"]+)" id="%s"' % re.escape(form_id), page)
    assert m, f"no form {form_id} on the page"
    return html.unescape(m.group(1))


def at_hash(access_token):
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


class Walk:
    """What one authorization request came to: `hops` (every response the browser saw), `final`
    (the last response: the redirect to the client, or a page), `pages` seen on the way."""

    def __init__(self):
        self.hops = []
        self.saw_login = False
        self.saw_consent = False
        self.login_pages = []

    @property
    def final(self):
        return self.hops[-1]

    @property
    def location(self):
        return self.final.headers.get("Location")

    @property
    def params(self):
        """The query the client received (the final redirect's)."""
        assert self.final.status_code in (302, 303), (self.final.status_code, self.final.text[:500])
        return query_of(self.location)

    @property
    def code(self):
        p = self.params
        assert "code" in p, p
        return p["code"]


class Browser:
    """A person's browser: a cookie jar, and the provider's pages and forms as a person uses them."""

    def __init__(self, op):
        self.op = op
        self.session = requests.Session()
        self.session.trust_env = False

    def get(self, url, **kw):
        return self.session.get(self.op.url(url) if url.startswith("/") else url, allow_redirects=False, **kw)

    def post(self, url, data, origin=True, **kw):
        headers = kw.pop("headers", {})
        if origin:
            headers.setdefault("Origin", self.op.base)
        return self.session.post(self.op.url(url) if url.startswith("/") else url, data=data,
                                 headers=headers, allow_redirects=False, **kw)

    def sign_in(self, username, password=PASSWORD):
        """Signs in at the portal directly (no authorization request)."""
        page = self.get("/ui/login")
        assert page.status_code == 200, page.text[:300]
        r = self.post("/ui/login", {"csrf": form_field(page.text, "csrf"), "return_to": "",
                                    "username": username, "password": password})
        assert r.status_code == 303, r.text[:500]
        return r

    def walk(self, url, username=None, password=PASSWORD, consent="allow", method="GET", data=None,
             max_hops=12):
        """Follows the provider's redirects from `url`: signs in on the login page (when a username
        is given), answers the consent page with `consent` ("allow", "deny", or None to stop
        there), and stops at the first redirect away from the provider or at any other page."""
        w = Walk()
        if method == "POST":
            r = self.post(url, data, origin=False)
        else:
            r = self.get(url)
        w.hops.append(r)
        for _ in range(max_hops):
            if r.status_code in (302, 303):
                loc = r.headers["Location"]
                if loc.startswith("/"):
                    loc = self.op.url(loc)
                if not loc.startswith(self.op.base + "/"):
                    return w  # on to the client
                r = self.get(loc)
                w.hops.append(r)
                continue
            if r.status_code != 200:
                return w
            if 'id="login-form"' in r.text:
                w.saw_login = True
                w.login_pages.append(r)
                if username is None:
                    return w
                r = self.post("/ui/login", {"csrf": form_field(r.text, "csrf"),
                                            "return_to": form_field(r.text, "return_to"),
                                            "username": username, "password": password})
                w.hops.append(r)
                continue
            if 'id="consent-form"' in r.text:
                w.saw_consent = True
                if consent is None:
                    return w
                fields = hidden_fields(r.text)
                fields["decision"] = consent
                r = self.post(form_action(r.text, "consent-form"), fields)
                w.hops.append(r)
                continue
            return w
        raise AssertionError("too many redirects: " + " -> ".join(str(h.status_code) for h in w.hops))


class OP:
    """The provider under test: its issuer (the server's base URL) and its keys."""

    def __init__(self, server):
        self.server = server
        self.base = server.base
        self._jwks = None

    def url(self, path):
        return self.base + path

    def discovery(self):
        r = requests.get(self.url("/.well-known/openid-configuration"))
        assert r.status_code == 200, r.text
        return r.json()

    def jwks(self):
        if self._jwks is None:
            r = requests.get(self.url("/.well-known/jwks.json"))
            assert r.status_code == 200, r.text
            self._jwks = r.json()
        return self._jwks

    def key_for(self, token):
        """The JWKS key whose kid the token's header names (asserting there is exactly one)."""
        header = jwt.get_unverified_header(token)
        assert header.get("kid"), header
        keys = [k for k in self.jwks()["keys"] if k.get("kid") == header["kid"]]
        assert len(keys) == 1, (header, self.jwks())
        return jwt.PyJWK(keys[0]).key

    def verify_access(self, token):
        return jwt.decode(token, self.key_for(token), algorithms=["RS256"], audience=self.base,
                          issuer=self.base)

    def browser(self):
        return Browser(self)

    def user(self, name):
        """A fresh user `name` (email name@example.com); returns the username."""
        r = self.server.register(f"{name}@example.com", name, PASSWORD)
        assert r.status_code == 201, r.text
        return name

    def client(self, **kw):
        return RP(self, **kw)


class RP:
    """One registered client of the provider, created with the command line."""

    def __init__(self, op, name="Test RP", redirect_uris=None, post_logout_redirect_uris=(), grants=(),
                 scope=None, public=False, first_party=False):
        self.op = op
        slug = secrets.token_hex(4)
        self.redirect_uris = list(redirect_uris if redirect_uris is not None
                                  else [f"https://rp-{slug}.example.com/cb"])
        self.post_logout_redirect_uris = list(post_logout_redirect_uris)
        args = ["client", "create", "--name", name, "--json"]
        for u in self.redirect_uris:
            args += ["--redirect-uri", u]
        for u in self.post_logout_redirect_uris:
            args += ["--post-logout-redirect-uri", u]
        for g in grants:
            args += ["--grant", g]
        if scope is not None:
            args += ["--scope", scope]
        if public:
            args.append("--public")
        if first_party:
            args.append("--first-party")
        r = op.server.cli(*args)
        assert r.returncode == 0, r.stderr
        self.info = json.loads(r.stdout)
        self.client_id = self.info["client_id"]
        self.secret = self.info.get("client_secret")
        self.public = public
        self.redirect_uri = self.redirect_uris[0] if self.redirect_uris else None

    # --- the authorization request --------------------------------------------------------------
    def authorize_params(self, scope="openid", pkce=True, **extra):
        """A request's parameters; with pkce, self.verifier holds the verifier."""
        p = {"client_id": self.client_id, "redirect_uri": self.redirect_uri, "response_type": "code",
             "scope": scope, "state": secrets.token_urlsafe(12), "nonce": secrets.token_urlsafe(12)}
        self.verifier = None
        if pkce:
            self.verifier, challenge = pkce_pair()
            p["code_challenge"] = challenge
            p["code_challenge_method"] = "S256"
        for k, v in extra.items():
            if v is None:
                p.pop(k, None)
            else:
                p[k] = v
        return p

    def authorize_url(self, params):
        return self.op.url("/oauth2/authorize?" + urllib.parse.urlencode(params))

    def login(self, browser, username, password=PASSWORD, consent="allow", scope="openid", **extra):
        """The whole front channel: returns (walk, params sent)."""
        params = self.authorize_params(scope=scope, **extra)
        w = browser.walk(self.authorize_url(params), username=username, password=password, consent=consent)
        return w, params

    # --- the back channel -----------------------------------------------------------------------
    def token_request(self, data, auth="basic", secret=None):
        """POST /oauth2/token authenticated as `auth`: basic, post or none (client_id alone)."""
        data = dict(data)
        secret = self.secret if secret is None else secret
        kw = {}
        if auth == "basic":
            kw["auth"] = (urllib.parse.quote(self.client_id, safe=""), urllib.parse.quote(secret, safe=""))
        elif auth == "post":
            data["client_id"] = self.client_id
            data["client_secret"] = secret
        elif auth == "none":
            data["client_id"] = self.client_id
        return requests.post(self.op.url("/oauth2/token"), data=data, **kw)

    def exchange(self, code, verifier="default", redirect_uri=None, auth=None, **kw):
        verifier = self.verifier if verifier == "default" else verifier
        data = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri or self.redirect_uri}
        if verifier is not None:
            data["code_verifier"] = verifier
        return self.token_request(data, auth=auth or ("none" if self.public else "basic"), **kw)

    def refresh(self, refresh_token, auth=None, **extra):
        return self.token_request({"grant_type": "refresh_token", "refresh_token": refresh_token, **extra},
                                  auth=auth or ("none" if self.public else "basic"))

    def tokens(self, browser, username, scope="openid", **extra):
        """Front and back channel: the token response's JSON, with the walk and params."""
        w, params = self.login(browser, username, scope=scope, **extra)
        r = self.exchange(w.code)
        assert r.status_code == 200, r.text
        t = r.json()
        t["_params"] = params
        return t

    def verify_id_token(self, id_token, nonce=None):
        claims = jwt.decode(id_token, self.op.key_for(id_token), algorithms=["RS256"],
                            audience=self.client_id, issuer=self.op.base,
                            options={"require": ["iss", "sub", "aud", "exp", "iat"]})
        if nonce is not None:
            assert claims.get("nonce") == nonce, claims
        return claims

    def introspect(self, token, **extra):
        return requests.post(self.op.url("/oauth2/introspect"), data={"token": token, **extra},
                             auth=(self.client_id, self.secret))

    def revoke(self, token, **extra):
        return requests.post(self.op.url("/oauth2/revoke"), data={"token": token, **extra},
                             auth=(self.client_id, self.secret))


def userinfo(op, access_token, how="get"):
    if how == "get":
        return requests.get(op.url("/oauth2/userinfo"), headers={"Authorization": f"Bearer {access_token}"})
    if how == "post-header":
        return requests.post(op.url("/oauth2/userinfo"), headers={"Authorization": f"Bearer {access_token}"})
    if how == "post-body":
        return requests.post(op.url("/oauth2/userinfo"), data={"access_token": access_token})
    raise ValueError(how)
