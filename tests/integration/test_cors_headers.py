"""CORS headers over plain HTTP (API.md, "API description and browsers"): CORS_ALLOW_ORIGINS lists
exact origins; preflights are answered; credentials are allowed only for listed origins, always
with the exact origin (never "*"); responses that depend on Origin say `Vary: Origin`; unlisted
origins get no Access-Control-* header at all. tests/browser/test_cors.py checks the same in a
real browser."""
import pytest
import requests

from conftest import auth

ORIGIN = "http://app.example:3000"
SECOND = "http://127.0.0.1:5173"
ALLOW_HEADERS = {"authorization", "content-type", "x-api-key", "x-request-id"}
UNLISTED = [
    "http://other.example",
    "https://app.example:3000",  # scheme
    "http://app.example:3001",  # port
    "http://app.example",  # default port is another origin
    "http://app.example:3000.evil.example",  # suffix
    "http://evil.app.example:3000",  # subdomain
    "http://app.example:3000/",  # not an origin's serialisation
    "null",  # sandboxed frames, file: pages
]


def tokens(value):
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}


def cors_headers(r):
    return {k: v for k, v in r.headers.items() if k.lower().startswith("access-control-")}


def preflight(server, path, origin, method="GET", headers="authorization"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(server.url(path), headers=h)


@pytest.fixture
def cors_server(make_server):
    return make_server({"CORS_ALLOW_ORIGINS": f"{ORIGIN},{SECOND}"})


def test_preflight_from_a_listed_origin(cors_server):
    for origin in (ORIGIN, SECOND):
        r = preflight(cors_server, "/api/v1/auth/me", origin,
                      headers="authorization,content-type,x-api-key,x-request-id")
        assert r.status_code == 204, (r.status_code, r.text)
        assert r.content == b""
        assert r.headers["Access-Control-Allow-Origin"] == origin
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        assert {"get", "post", "patch", "delete"} <= tokens(r.headers["Access-Control-Allow-Methods"])
        assert ALLOW_HEADERS <= tokens(r.headers["Access-Control-Allow-Headers"])
        assert "origin" in tokens(r.headers.get("Vary"))
    r = preflight(cors_server, "/api/v1/auth/login", ORIGIN, method="POST", headers="content-type")
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "post" in tokens(r.headers["Access-Control-Allow-Methods"])


def test_answers_to_a_listed_origin_are_readable(cors_server):
    assert cors_server.register("cors@example.com", "corsuser").status_code == 201
    r = requests.post(cors_server.url("/api/v1/auth/login"), headers={"Origin": ORIGIN},
                      data={"username": "cors@example.com", "password": "Passw0rd!x"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    token = r.json()["access_token"]
    responses = [
        requests.get(cors_server.url("/api/v1/auth/me"), headers={"Origin": ORIGIN, **auth(token)}),
        requests.get(cors_server.url("/api/v1/auth/me"), headers={"Origin": ORIGIN}),  # 401
    ]
    assert [x.status_code for x in responses] == [200, 401]
    assert responses[0].json()["email"] == "cors@example.com"
    for x in [r, *responses]:
        assert x.headers["Access-Control-Allow-Origin"] == ORIGIN, x.status_code
        assert x.headers["Access-Control-Allow-Credentials"] == "true"
        assert "origin" in tokens(x.headers.get("Vary"))
        assert {"retry-after", "x-request-id"} <= tokens(x.headers.get("Access-Control-Expose-Headers"))


def test_unlisted_origins_get_no_cors_headers(cors_server):
    for origin in UNLISTED:
        p = preflight(cors_server, "/api/v1/auth/me", origin)
        assert cors_headers(p) == {}, (origin, cors_headers(p))
        r = requests.get(cors_server.url("/api/v1/auth/me"), headers={"Origin": origin})
        assert r.status_code == 401
        assert cors_headers(r) == {}, (origin, cors_headers(r))
        # The answer would differ for a listed origin, so caches must key on Origin.
        assert "origin" in tokens(r.headers.get("Vary")), origin


def test_vary_origin_without_an_origin_header(cors_server):
    r = requests.get(cors_server.url("/healthz"))
    assert r.status_code == 200
    assert cors_headers(r) == {}
    assert "origin" in tokens(r.headers.get("Vary"))


def test_no_cors_headers_when_not_configured(server):
    p = preflight(server, "/api/v1/auth/me", ORIGIN)
    assert cors_headers(p) == {}
    r = requests.get(server.url("/api/v1/auth/me"), headers={"Origin": ORIGIN})
    assert r.status_code == 401
    assert cors_headers(r) == {}


def test_never_a_wildcard_origin(cors_server, server):
    for s in (cors_server, server):
        for origin in (ORIGIN, "http://other.example", "null"):
            for r in (preflight(s, "/api/v1/auth/me", origin),
                      requests.get(s.url("/api/v1/auth/me"), headers={"Origin": origin}),
                      requests.get(s.url("/healthz"), headers={"Origin": origin})):
                assert r.headers.get("Access-Control-Allow-Origin") in (None, origin)
                assert r.headers.get("Access-Control-Allow-Origin") != "*"
