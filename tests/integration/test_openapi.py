"""GET /openapi.json as other tools read it: Redocly's linter, a client generated from it by
@hey-api/openapi-ts and compiled with TypeScript, and the response check every integration test
runs (conftest.py) shown to catch a wrong schema. The npm tools are pinned in tests/tools
(npm ci --prefix tests/tools)."""
import copy
import json
import os
import shutil
import subprocess

import pytest
import requests

import conftest
from conftest import auth

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
BIN_DIR = os.path.join(TOOLS, "node_modules", ".bin")
NODE = shutil.which("node") or "/usr/bin/node"
# Quiet and offline: no usage reports, no update checks.
TOOL_ENV = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
            "NO_COLOR": "1"}


def tool(name):
    if not os.path.isdir(os.path.join(TOOLS, "node_modules")):
        if os.environ.get("GATEHOUSE_SKIP_NPM") == "1":
            pytest.skip("GATEHOUSE_SKIP_NPM=1 and tests/tools is not installed")
        pytest.fail("tests/tools/node_modules is missing: npm ci --prefix tests/tools --ignore-scripts")
    return os.path.join(BIN_DIR, name)


def run(args, cwd, timeout=180):
    r = subprocess.run(args, cwd=cwd, env=TOOL_ENV, capture_output=True, text=True, timeout=timeout)
    return r.returncode, (r.stdout + r.stderr)


def test_the_document_passes_redocly_lint(server, tmp_path):
    redocly = tool("redocly")
    r = requests.get(server.url("/openapi.json"))
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    # The rules (redocly.yaml) and the per-operation exceptions (.redocly.lint-ignore.yaml, keyed
    # by the file name openapi.json) beside the document, as when linting it by hand.
    (tmp_path / "openapi.json").write_bytes(r.content)
    for name in ("redocly.yaml", ".redocly.lint-ignore.yaml"):
        shutil.copy(os.path.join(TOOLS, name), tmp_path / name)
    code, out = run([redocly, "lint", "openapi.json", "--config", "redocly.yaml", "--format=stylish"],
                    cwd=tmp_path)
    assert code == 0, out
    assert "is valid" in out, out


def test_a_generated_client_registers_logs_in_and_reads_me(server, tmp_path):
    openapi_ts, tsc = tool("openapi-ts"), tool("tsc")
    code, out = run([openapi_ts, "--input", server.url("/openapi.json"), "--output", "client"], cwd=tmp_path)
    assert code == 0, out
    shutil.copy(os.path.join(TOOLS, "client_check.ts"), tmp_path / "client_check.ts")
    (tmp_path / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"target": "ES2022", "module": "commonjs", "moduleResolution": "node10",
                            "lib": ["ES2022", "DOM", "DOM.Iterable"], "strict": True,
                            "noEmitOnError": True, "skipLibCheck": True, "rootDir": ".", "outDir": "out"},
        "include": ["client_check.ts", "client/**/*.ts"]}))
    code, out = run([tsc, "-p", "tsconfig.json"], cwd=tmp_path)
    assert code == 0, out
    code, out = run([NODE, "out/client_check.js", server.base, "generated@example.com", "generated",
                     "Gener4ted-Passw0rd"], cwd=tmp_path, timeout=60)
    assert code == 0, out
    result = json.loads(out.strip().splitlines()[-1])
    assert (result["register"], result["login"]) == (201, 200)
    assert result["me"]["email"] == "generated@example.com"
    assert result["me"]["username"] == "generated" and result["seen"]["token_type"] == "bearer"


def test_the_response_check_catches_a_response_the_document_does_not_describe(server):
    """The check conftest.py runs on every response, against a deliberately wrong document."""
    server.register("checked@example.com", "checked")
    me = requests.get(server.url("/api/v1/auth/me"), headers=auth(server.token("checked")))
    assert me.status_code == 200
    doc = requests.get(server.url("/openapi.json")).json()
    ct, body = me.headers["Content-Type"], me.content
    assert conftest.ApiDocument(doc).check("GET", "/api/v1/auth/me", 200, ct, body) == []

    wrong = copy.deepcopy(doc)
    wrong["components"]["schemas"]["User"]["properties"]["id"] = {"type": "string"}
    assert conftest.ApiDocument(wrong).check("GET", "/api/v1/auth/me", 200, ct, body) == [
        "id: 1 is not of type 'string'"]

    fewer = copy.deepcopy(doc)
    del fewer["components"]["schemas"]["User"]["properties"]["role"]
    fewer["components"]["schemas"]["User"]["required"].remove("role")
    assert conftest.ApiDocument(fewer).check("GET", "/api/v1/auth/me", 200, ct, body) == [
        "(body): property 'role' is not in the document"]

    undeclared = copy.deepcopy(doc)
    del undeclared["paths"]["/api/v1/auth/me"]["get"]["responses"]["200"]
    assert conftest.ApiDocument(undeclared).check("GET", "/api/v1/auth/me", 200, ct, body)[0].startswith(
        "status 200 is not declared")

    # Templated paths, and routes the document leaves out.
    assert conftest.ApiDocument(wrong).check(
        "GET", "/api/v1/users/7", 200, ct, body) == ["id: 1 is not of type 'string'"]
    assert conftest.ApiDocument(doc).check("GET", "/docs", 200, "text/html", b"<html>") is None
