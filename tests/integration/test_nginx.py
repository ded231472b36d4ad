"""A real nginx (Debian's package) in front of a small upstream, with auth_request to gatehouse:
no token 401, bad token 401, token lacking the permission 403, good token the upstream's 200 with
the X-Auth-* headers passed through. The nginx configuration is docs/forward-auth.md's."""
import http.server
import json
import pathlib
import threading

import pytest
import requests

from conftest import auth, free_port, start_nginx

TEMPLATE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "nginx-forward-auth.conf"


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
    gate = make_server()
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    conf = TEMPLATE.read_text()
    conf = conf.replace("127.0.0.1:8000", f"127.0.0.1:{gate.port}")
    conf = conf.replace("127.0.0.1:9000", f"127.0.0.1:{upstream.server_address[1]}")
    conf = conf.replace("listen 127.0.0.1:8080", f"listen 127.0.0.1:{port}")
    proc = start_nginx(tmp_path, port, conf)
    base = f"http://127.0.0.1:{port}"
    yield gate, base
    proc.terminate()
    proc.wait(timeout=10)
    upstream.shutdown()


def test_nginx_auth_request(stack):
    gate, base = stack
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
    gate, base = stack
    gate.register("q@example.com", "querykey")
    key = requests.post(gate.url("/api/v1/api-keys"), json={"name": "q", "scopes": ["users:read"]},
                        headers=auth(gate.token("querykey"))).json()["key"]
    r = requests.get(base + "/app/data", params={"api_key": key})
    assert r.status_code == 200 and r.json()["headers"]["x-auth-scopes"] == "users:read"
    assert requests.get(base + "/app/data", params={"api_key": key[:-2] + "zz"}).status_code == 401
