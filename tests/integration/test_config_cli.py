"""Configuration that checks itself (issue #18): the configuration file read as a shell or
systemd's EnvironmentFile reads it, `gatehouse config --check`, `gatehouse config`, `serve --listen`
and `--config`, relative paths in the file, startup refusals and `gatehouse roles`.

Runs the binary as a command and as a server, each run with only the variables it names (no
GATEHOUSE_* or other settings leak in from the caller's environment)."""
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import SECRET, free_port

BIN = os.environ.get("GATEHOUSE_BIN") or "/tmp/wa/gatehouse-config"

DEFAULT_ROLES = {
    "admin": "analytics:view clients:manage posts:delete posts:read posts:write roles:manage "
             "tokens:introspect users:delete users:read users:write",
    "moderator": "posts:delete posts:read posts:write users:read users:write",
    "user": "posts:read posts:write users:read",
}


def clean_env(**settings):
    """An environment with no settings but `settings`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=1"),
        "UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS", "halt_on_error=1"),
    }
    env.update(settings)
    return env


def gatehouse(*args, cwd, env=None):
    return subprocess.run([BIN, *map(str, args)], env=clean_env(**(env or {})), cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def ready(base, timeout=30):
    """Whether `base` answers /readyz with 200 within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/readyz", timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return False


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


class Process:
    """A `gatehouse serve ...` with its output in a log file."""

    def __init__(self, args, env, cwd, log_path):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([BIN, *map(str, args)], env=env, cwd=cwd, stdout=self.log,
                                     stderr=self.log)

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, port, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited with {self.proc.returncode}: {self.log_text()}")
            try:
                r = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                if r.status_code == 200:
                    return r
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise AssertionError("not healthy: " + self.log_text())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def serve(tmp_path):
    """Starts `gatehouse <args>` (a server); stops each at teardown and fails on an unclean exit."""
    started = []

    def start(*args, env=None, cwd=None):
        p = Process(args, clean_env(**(env or {})), cwd or tmp_path,
                    tmp_path / f"serve-{len(started)}.log")
        started.append(p)
        return p

    yield start
    for p in started:
        code = p.stop()
        if code not in (0, None):
            pytest.fail(f"server exited with {code}: {p.log_text()[-3000:]}")


def refuses(port, timeout=1):
    try:
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=timeout)
    except requests.ConnectionError:
        return True
    return False


# --- config --check --------------------------------------------------------------------------

def test_check_accepts_a_valid_file(tmp_path):
    conf = write(tmp_path / "etc" / "gatehouse.env",
                 f"SECRET_KEY={SECRET}\nDATABASE_URL=sqlite:///data/g.db\nBCRYPT_ROUNDS=10\n")
    r = gatehouse("config", "--check", "--config", conf, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"gatehouse: the configuration is valid (environment and {conf})" in r.stdout
    assert r.stderr == ""


def test_check_names_every_secret_that_is_none_without_showing_it(tmp_path):
    """From a file as from the environment: each weak secret is named on a line of its own.
    (KEY_ENCRYPTION_KEY is judged against the database: test_keys.py.)"""
    conf = write(tmp_path / "gatehouse.env",
                 "SECRET_KEY=09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7\n"
                 "MFA_SECRET_KEY=" + "q" * 40 + "\n")
    r = gatehouse("config", "--check", "--config", conf,
                  env={"LEGACY_SECRET_KEY": "ab" * 20, "LEGACY_TOKENS_UNTIL": "2030-01-01T00:00:00Z"}, cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    for name in ("SECRET_KEY", "MFA_SECRET_KEY", "LEGACY_SECRET_KEY"):
        assert f"gatehouse: {name}: is not a secret" in r.stderr, r.stderr
    for value in ("09d25e09", "qqqq", "abab"):
        assert value not in r.stderr + r.stdout


def test_check_accepts_an_empty_environment(tmp_path):
    r = gatehouse("config", "--check", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "the configuration is valid (environment)" in r.stdout


@pytest.mark.parametrize("text, line, expected", [
    ("BCRYPT_ROUNDS=10\nBCRYPT_ROUND=11\n", 2,
     "unknown setting BCRYPT_ROUND (did you mean BCRYPT_ROUNDS?)"),
    ('SECRET_KEY="abc\n', 1, 'SECRET_KEY: unterminated " quote'),
    ("# c\nSECRET_KEY='abc\n", 2, "SECRET_KEY: unterminated ' quote"),
    ('BRAND_NAME="Acme" Inc\n', 1, "BRAND_NAME: text after the closing quote"),
    ("TOKEN_ISSUER=a\n\nTOKEN_ISSUER=b\n", 3, "TOKEN_ISSUER is already set on line 1"),
    ("TOKEN_ISSUER a\n", 1, "not KEY=VALUE"),
    ("GATEHOUSE_CONFIG_FILE=/etc/other.env\n", 1,
     "GATEHOUSE_CONFIG_FILE cannot be set inside the file"),
    ("OIDC_ACME_ISSUER=https://idp.example\n", 1, "unknown setting OIDC_ACME_ISSUER"),
], ids=["unknown", "unterminated-double", "unterminated-single", "after-quote", "twice",
        "not-key-value", "config-file-inside", "unlisted-provider"])
def test_check_refuses_a_bad_file_naming_file_and_line(tmp_path, text, line, expected):
    conf = write(tmp_path / "g.env", text)
    r = gatehouse("config", "--check", "--config", conf, cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    assert f"gatehouse: {conf}:{line}: {expected}\n" in r.stderr


def test_check_lists_every_file_problem_on_its_own_line(tmp_path):
    conf = write(tmp_path / "g.env", "BCRYPT_ROUND=10\nwords\nTOKEN_ISSUER=a\nTOKEN_ISSUER=b\n")
    r = gatehouse("config", "--check", "--config", conf, cwd=tmp_path)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert f"gatehouse: {conf}:1: unknown setting BCRYPT_ROUND (did you mean BCRYPT_ROUNDS?)" in lines
    assert f"gatehouse: {conf}:2: not KEY=VALUE" in lines
    assert f"gatehouse: {conf}:4: TOKEN_ISSUER is already set on line 3" in lines


def test_check_refuses_a_missing_file(tmp_path):
    r = gatehouse("config", "--check", "--config", tmp_path / "absent.env", cwd=tmp_path)
    assert r.returncode == 1
    assert "absent.env" in r.stderr and "cannot read" in r.stderr


def test_oidc_keys_are_allowed_once_the_provider_is_listed(tmp_path):
    keys = ("OIDC_MY_IDP_ISSUER=https://idp.example\nOIDC_MY_IDP_CLIENT_ID=cid\n"
            "OIDC_MY_IDP_CLIENT_SECRET=oidc-secret-value\n")
    in_file = write(tmp_path / "a.env", "OIDC_PROVIDERS=my-idp\n" + keys)
    assert gatehouse("config", "--check", "--config", in_file, cwd=tmp_path).returncode == 0
    only_keys = write(tmp_path / "b.env", keys)
    r = gatehouse("config", "--check", "--config", only_keys, env={"OIDC_PROVIDERS": "my-idp"}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_check_names_each_settings_problem_on_its_own_line(tmp_path):
    conf = write(tmp_path / "g.env", "BCRYPT_ROUNDS=9\nFRONTEND_URL=app.example.com\n")
    r = gatehouse("config", "--check", "--config", conf, env={"ALGORITHM": "none"}, cwd=tmp_path)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert "gatehouse: BCRYPT_ROUNDS: must be an integer between 10 and 31" in lines
    assert any(l.startswith("gatehouse: FRONTEND_URL: must start with http:// or https://") for l in lines)
    # A URL's password is never shown, this one's neither (an outside attack, stop 60).
    for value in ("ftp://user:Fr0nt-Secret@app.example.com", "user:Fr0nt-Secret@app.example.com",
                  "//user:Fr0nt-Secret@app.example.com",
                  "user:Fr0nt-Secret@app.example.com/?next=https://x"):
        r = gatehouse("config", "--check", env={"FRONTEND_URL": value}, cwd=tmp_path)
        assert r.returncode == 1 and "FRONTEND_URL: must start with http:// or https:// (got " in r.stderr, r.stderr
        assert "Fr0nt-Secret" not in r.stderr + r.stdout, (value, r.stderr)
    assert any(l.startswith("gatehouse: ALGORITHM: must be one of") for l in lines)
    assert f"gatehouse: the configuration has 3 problems (environment and {conf})" in lines


def test_check_runs_the_preflight(tmp_path):
    policy = write(tmp_path / "policy.json", '{"roles": {"x": ["nope:nope"]}}')
    templates = tmp_path / "templates"
    write(templates / "mail" / "reset-password.txt", "Hello {{nope}}\n")
    (templates / "ui.css").mkdir()  # read as a file, a folder threw and ended the server unheard
    r = gatehouse("config", "--check", env={
        "DATABASE_URL": f"sqlite:///{tmp_path}/data/g.db",
        "GATEHOUSE_POLICY_FILE": str(policy),
        "GATEHOUSE_TEMPLATE_DIR": str(templates),
        "MAIL_FILE": str(tmp_path / "mail.mbox"),
        "SMTP_FROM": "a@example.com, b@example.com",
        "GATEHOUSE_PUBLIC_URL": "https://auth.example.com",
        "SESSION_COOKIE_DOMAIN": "other.example",
        "WEBAUTHN_ORIGINS": "https://evil.example",
        "WEBAUTHN_TRUST_STORE": str(write(tmp_path / "roots.pem", "not a certificate\n")),
    }, cwd=tmp_path)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    for start in ("gatehouse: GATEHOUSE_POLICY_FILE: ",
                  f"gatehouse: GATEHOUSE_TEMPLATE_DIR: {templates}/mail/reset-password.txt: unknown placeholder",
                  "gatehouse: SMTP_FROM: ",
                  "gatehouse: SESSION_COOKIE_DOMAIN: other.example does not cover GATEHOUSE_PUBLIC_URL's host auth.example.com",
                  "gatehouse: WEBAUTHN_ORIGINS: https://evil.example is not auth.example.com",
                  "gatehouse: WEBAUTHN_TRUST_STORE: ",
                  "gatehouse: GATEHOUSE_TEMPLATE_DIR: ui.css is not a file of at most 256 KiB"):
        assert any(l.startswith(start) for l in lines), (start, r.stderr)
    assert "gatehouse: the configuration has 7 problems (environment)" in lines


def _self_signed_pem(tmp_path):
    key, pem = tmp_path / "ca.key", tmp_path / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=Gatehouse config check", "-keyout", key, "-out", pem],
                   check=True, capture_output=True, timeout=60)
    return pem.read_text()


def test_check_reads_ca_bundles_and_files_as_their_users_will(tmp_path):
    """A CA bundle the first TLS connection would refuse is refused now: one with no certificate,
    or with a block OpenSSL cannot read after a good one (a test for a BEGIN line passed it). The
    trust store and the policy file likewise; each file is read size-capped, a FIFO never waited
    on. A good bundle passes."""
    good = _self_signed_pem(tmp_path)
    broken = good + "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    paths = {name: write(tmp_path / name, text) for name, text in (
        ("good.pem", good), ("broken.pem", broken), ("words.pem", "-----BEGIN CERTIFICATE----- and nothing\n"),
        ("huge.json", " " * (1024 * 1024 + 1)))}
    templates = tmp_path / "templates"
    (templates / "mail").mkdir(parents=True)
    os.mkfifo(templates / "mail" / "reset-password.txt")
    r = gatehouse("config", "--check", env={"OIDC_CA_FILE": paths["good.pem"]}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = gatehouse("config", "--check", env={
        "OIDC_CA_FILE": paths["broken.pem"], "SMTP_CA_FILE": paths["words.pem"],
        "WEBAUTHN_TRUST_STORE": paths["broken.pem"], "GATEHOUSE_POLICY_FILE": paths["huge.json"],
        "GATEHOUSE_TEMPLATE_DIR": templates}, cwd=tmp_path)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    for expected in (
            f"gatehouse: OIDC_CA_FILE: {paths['broken.pem']} holds a PEM block that does not parse",
            f"gatehouse: SMTP_CA_FILE: {paths['words.pem']} holds no PEM certificate",
            "gatehouse: WEBAUTHN_TRUST_STORE: attestation: the trust store holds a PEM block that does not parse",
            f"gatehouse: GATEHOUSE_POLICY_FILE: cannot read {paths['huge.json']}: larger than 1048576 bytes",
            f"gatehouse: GATEHOUSE_TEMPLATE_DIR: cannot read {templates}/mail/reset-password.txt: not a regular file"):
        assert expected in lines, (expected, r.stderr)


def test_check_reads_the_stored_signing_key(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    data = tmp_path / "data"
    data.mkdir()
    (data / "signing_key.pem").write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    env = {"DATABASE_URL": f"sqlite:///{data}/g.db"}
    r = gatehouse("config", "--check", env={**env, "ALGORITHM": "RS256"}, cwd=tmp_path)
    assert r.returncode == 1
    assert f"gatehouse: ALGORITHM: {data}/signing_key.pem does not fit RS256" in r.stderr
    assert gatehouse("config", "--check", env={**env, "ALGORITHM": "ES256"}, cwd=tmp_path).returncode == 0
    # Nothing was made while checking.
    assert sorted(p.name for p in data.iterdir()) == ["signing_key.pem"]


def test_check_refuses_a_data_dir_this_user_cannot_write(tmp_path):
    parent = tempfile.mkdtemp(prefix="gatehouse-ro-")
    try:
        os.chmod(parent, 0o755)
        data = os.path.join(parent, "data")
        env = {"GATEHOUSE_DATA_DIR": data, "DATABASE_URL": f"sqlite:///{tmp_path}/g.db"}
        if os.geteuid() == 0:
            if not shutil.which("setpriv"):
                pytest.skip("root without setpriv: every folder is writable")
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                BIN, "config", "--check"], env=clean_env(**env), cwd=parent,
                               capture_output=True, text=True, timeout=60)
        else:
            os.chmod(parent, 0o555)
            r = gatehouse("config", "--check", env=env, cwd=parent)
        assert r.returncode == 1
        assert f"gatehouse: GATEHOUSE_DATA_DIR: {parent} is not writable by this user" in r.stderr
    finally:
        os.chmod(parent, 0o755)
        shutil.rmtree(parent)


def test_check_warns_about_unknown_gatehouse_variables(tmp_path):
    r = gatehouse("config", "--check", cwd=tmp_path,
                  env={"GATEHOUSE_LISTN": "127.0.0.1:9", "GATEHOUSE_SOMETHING_ELSE": "1",
                       "UNRELATED_VARIABLE": "1"})
    assert r.returncode == 0, r.stderr
    assert ("gatehouse: warning: the environment sets GATEHOUSE_LISTN, which is not a setting "
            "(did you mean GATEHOUSE_LISTEN?)") in r.stdout
    assert "the environment sets GATEHOUSE_SOMETHING_ELSE, which is not a setting\n" in r.stdout
    assert "UNRELATED_VARIABLE" not in r.stdout
    assert "the configuration is valid" in r.stdout


@pytest.mark.parametrize("url, warns", [
    ("http://auth.example.com", True),
    ("http://10.0.0.5:8000", True),
    ("http://127.example.com", True),  # a host name, not the loopback address
    ("https://auth.example.com", False),
    ("http://localhost:8000", False),
    ("http://127.0.0.1:8000", False),
    ("http://[::1]:8000", False),
])
def test_check_warns_about_a_plain_http_public_url(tmp_path, url, warns):
    r = gatehouse("config", "--check", cwd=tmp_path, env={"GATEHOUSE_PUBLIC_URL": url})
    assert r.returncode == 0, r.stderr
    assert ("GATEHOUSE_PUBLIC_URL is plain http on a host that is not loopback" in r.stdout) == warns


@pytest.mark.parametrize("listen, token, warns", [
    ("0.0.0.0:8000", None, True),
    ("[::]:8000", None, True),
    ("10.0.0.5:8000", None, True),
    ("0.0.0.0:8000", "scrape-" + "m" * 24, False),
    ("127.0.0.1:8000", None, False),
    ("[::1]:8000", None, False),
    ("localhost:8000", None, False),
])
def test_check_warns_about_an_open_metrics_beyond_loopback(tmp_path, listen, token, warns):
    """An enumeration attack: /metrics (open without METRICS_TOKEN, as the contract has it) tells
    by its mail counters which forgot-password requests found an account. Said when it is
    reachable beyond the machine."""
    env = {"GATEHOUSE_LISTEN": listen}
    if token:
        env["METRICS_TOKEN"] = token
    r = gatehouse("config", "--check", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert ("METRICS_TOKEN is not set and GATEHOUSE_LISTEN is not loopback" in r.stdout) == warns, r.stdout


@pytest.mark.parametrize("token", ["at-least-16-characters", "AT-LEAST-16-CHARACTERS"])
def test_the_packaged_metrics_token_placeholder_is_refused(tmp_path, token):
    """A docs walk: packaging/gatehouse.conf's METRICS_TOKEN placeholder, uncommented as it stands,
    was taken silently (the secrets' placeholders are refused): a token anyone who read the
    package has."""
    r = gatehouse("config", "--check", cwd=tmp_path, env={"METRICS_TOKEN": token})
    assert r.returncode != 0 and "METRICS_TOKEN: is the placeholder of packaging/gatehouse.conf" in r.stderr, \
        (r.returncode, r.stderr)
    assert token not in r.stderr + r.stdout  # never echoed


# --- gatehouse config ------------------------------------------------------------------------

def setting_line(output, name):
    for line in output.splitlines():
        if line.strip().startswith(name + " "):
            return line
    raise AssertionError(f"no {name} line in:\n{output}")


def test_systemd_style_file_is_read_as_a_shell_reads_it(tmp_path):
    conf = write(tmp_path / "etc" / "gatehouse.env", """\
# Gatehouse, as systemd's EnvironmentFile= or `set -a; . file` reads it
; an ini-style comment

export TOKEN_ISSUER=https://auth.example.com   # the iss claim
SMTP_FROM="Ops \\"Team\\" <ops@example.com>"
BRAND_NAME = 'Acme $HOME `id` \\n'
MFA_ISSUER="Acme \\$ \\\\ Sign-in"
BRAND_PRIMARY_COLOR=#aabbcc
""")
    r = gatehouse("config", "--config", conf, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert setting_line(r.stdout, "TOKEN_ISSUER").split("=", 1)[1].strip() == \
        f"https://auth.example.com   ({conf}:4)"
    assert f'= Ops "Team" <ops@example.com>   ({conf}:5)' in setting_line(r.stdout, "SMTP_FROM")
    assert f"= Acme $HOME `id` \\n   ({conf}:6)" in setting_line(r.stdout, "BRAND_NAME")
    assert f"= Acme $ \\ Sign-in   ({conf}:7)" in setting_line(r.stdout, "MFA_ISSUER")
    assert f"= #aabbcc   ({conf}:8)" in setting_line(r.stdout, "BRAND_PRIMARY_COLOR")
    effective = r.stdout.split("effective:", 1)[1]
    assert 'SMTP_FROM                   = Ops "Team" <ops@example.com>' in effective
    assert "TOKEN_ISSUER                = https://auth.example.com\n" in effective


def test_environment_wins_over_the_file(tmp_path):
    conf = write(tmp_path / "g.env", "TOKEN_ISSUER=from-file\nGATEHOUSE_LISTEN=127.0.0.1:8001\n")
    r = gatehouse("config", "--config", conf, env={"TOKEN_ISSUER": "from-env"}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert setting_line(r.stdout, "TOKEN_ISSUER").strip().endswith("= from-env   (environment)")
    assert "TOKEN_ISSUER                = from-env" in r.stdout
    assert f"= 127.0.0.1:8001   ({conf}:2)" in setting_line(r.stdout, "GATEHOUSE_LISTEN")


def test_an_empty_environment_variable_never_hides_the_files_value(tmp_path):
    """An outside attack: DATABASE_URL=, REDIS_URL=, METRICS_TOKEN=, REGISTRATION_ENABLED= and
    TOKEN_AUDIENCE= in the environment (docker-compose's ${VAR} of an unset variable, systemd's
    Environment=VAR=) hid the file's values and brought back the defaults: a local SQLite
    database, no Redis, an open /metrics, open registration. config --check said "valid"."""
    conf = write(tmp_path / "g.env", "TOKEN_ISSUER=from-file\nTOKEN_AUDIENCE=my-api\n"
                                     "REGISTRATION_ENABLED=false\nMETRICS_TOKEN=zz-metrics-token-012345\n")
    empty = {"TOKEN_ISSUER": "", "TOKEN_AUDIENCE": "", "REGISTRATION_ENABLED": "", "METRICS_TOKEN": "",
             "SECRET_KEY": SECRET}
    r = gatehouse("config", "--config", conf, env=empty, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert setting_line(r.stdout, "TOKEN_ISSUER").strip().endswith(f"= from-file   ({conf}:1)")
    assert setting_line(r.stdout, "TOKEN_AUDIENCE").strip().endswith(f"= my-api   ({conf}:2)")
    assert "REGISTRATION_ENABLED        = false" in r.stdout, r.stdout
    check = gatehouse("config", "--check", "--config", conf, env=empty, cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    for name, line in (("TOKEN_ISSUER", 1), ("TOKEN_AUDIENCE", 2), ("REGISTRATION_ENABLED", 3),
                       ("METRICS_TOKEN", 4)):
        assert (f"warning: the environment sets {name} empty, which counts as unset: {conf}:{line} "
                "applies") in check.stdout, check.stdout
    assert "zz-metrics-token" not in check.stdout + check.stderr + r.stdout + r.stderr
    # The list of providers too (a review: OIDC_PROVIDERS= made the file's OIDC_ACME_* unknown).
    write(conf, conf.read_text() + "OIDC_PROVIDERS=acme\nOIDC_ACME_ISSUER=https://idp.example.com\n"
                                   "OIDC_ACME_CLIENT_ID=gatehouse\nOIDC_ACME_CLIENT_SECRET=zz-client-secret-0123\n")
    check = gatehouse("config", "--check", "--config", conf, env={**empty, "OIDC_PROVIDERS": ""}, cwd=tmp_path)
    assert "OIDC_ACME" not in check.stderr and "not a setting" not in check.stdout + check.stderr, \
        check.stdout + check.stderr
    assert "warning: the environment sets OIDC_PROVIDERS empty" in check.stdout, check.stdout


def test_config_file_variable_names_the_file_and_the_flag_overrides_it(tmp_path):
    named = write(tmp_path / "named.env", "TOKEN_ISSUER=from-variable\n")
    flagged = write(tmp_path / "flag.env", "TOKEN_ISSUER=from-flag\n")
    r = gatehouse("config", env={"GATEHOUSE_CONFIG_FILE": str(named)}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "TOKEN_ISSUER                = from-variable" in r.stdout
    # The flag, before or after the subcommand.
    for args in (("config", "--config", flagged), ("--config", flagged, "config")):
        r = gatehouse(*args, env={"GATEHOUSE_CONFIG_FILE": str(named)}, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "TOKEN_ISSUER                = from-flag" in r.stdout


def test_config_refuses_a_bad_file_too(tmp_path):
    conf = write(tmp_path / "g.env", "BCRYPT_ROUND=10\n")
    r = gatehouse("config", "--config", conf, cwd=tmp_path)
    assert r.returncode == 1
    assert f"{conf}:1: unknown setting BCRYPT_ROUND" in r.stderr
    assert r.stdout == ""


SECRETS = {
    "SECRET_KEY": "zz-signing-secret-0123456789-abcdefghij",
    "MFA_SECRET_KEY": "zz-mfa-secret-0123456789-abcdefghijklm",
    "LEGACY_SECRET_KEY": "zz-legacy-secret-value-long-enough-for-hs256",
    "METRICS_TOKEN": "zz-metrics-token-012345",
    "OIDC_ACME_CLIENT_SECRET": "zz-oidc-client-secret",
    "GOOGLE_CLIENT_SECRET": "zz-google-client-secret",
}
PASSWORDS = ["zzdbpassword", "zzsmtppassword", "zzredispassword"]


def test_config_never_prints_secrets(tmp_path):
    conf = write(tmp_path / "g.env", f"""\
OIDC_PROVIDERS=acme
OIDC_ACME_ISSUER=https://idp.example
OIDC_ACME_CLIENT_ID=acme-client
OIDC_ACME_CLIENT_SECRET="{SECRETS['OIDC_ACME_CLIENT_SECRET']}"
SECRET_KEY='{SECRETS['SECRET_KEY']}'
export MFA_SECRET_KEY={SECRETS['MFA_SECRET_KEY']}
LEGACY_SECRET_KEY = {SECRETS['LEGACY_SECRET_KEY']}
LEGACY_TOKENS_UNTIL=2030-01-01T00:00:00Z
SMTP_URL=smtp://mailer:zzsmtppassword@smtp.example:587
SMTP_FROM=ops@example.com
""")
    env = {"METRICS_TOKEN": SECRETS["METRICS_TOKEN"], "GOOGLE_CLIENT_ID": "google-client",
           "GOOGLE_CLIENT_SECRET": SECRETS["GOOGLE_CLIENT_SECRET"],
           "DATABASE_URL": "postgresql://gate:zzdbpassword@db.example:5432/gh",
           "REDIS_URL": "redis://:zzredispassword@cache.example:6379/1"}
    r = gatehouse("config", "--config", conf, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    check = gatehouse("config", "--check", "--config", conf, env=env, cwd=tmp_path)
    for output in (r.stdout, r.stderr, check.stdout, check.stderr):
        for value in [*SECRETS.values(), *PASSWORDS]:
            assert value not in output, value
    for name in SECRETS:
        assert "(set, not shown)" in setting_line(r.stdout, name), name
    assert "postgresql://gate:***@db.example:5432/gh" in setting_line(r.stdout, "DATABASE_URL")
    assert "smtp://mailer:***@smtp.example:587" in setting_line(r.stdout, "SMTP_URL")
    assert "redis://:***@cache.example:6379/1" in setting_line(r.stdout, "REDIS_URL")
    # What is not secret is shown.
    assert "acme-client" in setting_line(r.stdout, "OIDC_ACME_CLIENT_ID")
    assert "google-client" in setting_line(r.stdout, "GOOGLE_CLIENT_ID")


def test_config_lists_provider_settings_from_the_environment(tmp_path):
    """Every set setting is listed with its origin: an OpenID provider's settings from the
    environment as much as from the file."""
    r = gatehouse("config", cwd=tmp_path, env={
        "OIDC_PROVIDERS": "acme", "OIDC_ACME_ISSUER": "https://idp.example",
        "OIDC_ACME_CLIENT_ID": "acme-client", "OIDC_ACME_CLIENT_SECRET": "zz-env-oidc-secret"})
    assert r.returncode == 0, r.stderr
    assert "zz-env-oidc-secret" not in r.stdout
    assert "acme-client   (environment)" in setting_line(r.stdout, "OIDC_ACME_CLIENT_ID")
    assert "(set, not shown)   (environment)" in setting_line(r.stdout, "OIDC_ACME_CLIENT_SECRET")


# --- relative paths --------------------------------------------------------------------------

def test_relative_paths_in_the_file_resolve_against_its_folder(tmp_path):
    etc = tmp_path / "etc"
    work = tmp_path / "work"
    work.mkdir()
    write(etc / "policy.json", json.dumps({"permissions": ["reports:view"],
                                           "roles": {"analyst": ["users:read", "reports:view"]}}))
    conf = write(etc / "gatehouse.env",
                 "DATABASE_URL=sqlite:///data/g.db\nGATEHOUSE_POLICY_FILE=policy.json\n")
    r = gatehouse("migrate", "--config", "../etc/gatehouse.env", cwd=work)
    assert r.returncode == 0, r.stderr
    assert (etc / "data" / "g.db").exists()
    assert not (work / "data").exists()
    r = gatehouse("roles", "--config", conf, cwd=work)
    assert r.returncode == 0, r.stderr
    assert "analyst: reports:view users:read" in r.stdout.splitlines()
    r = gatehouse("config", "--config", conf, cwd=work)
    assert f"sqlite:///{etc}/data/g.db   ({conf}:1)" in setting_line(r.stdout, "DATABASE_URL")
    assert f"= {etc}/policy.json   ({conf}:2)" in setting_line(r.stdout, "GATEHOUSE_POLICY_FILE")


def test_the_default_database_lives_next_to_the_file(tmp_path):
    etc = tmp_path / "etc"
    work = tmp_path / "work"
    work.mkdir()
    conf = write(etc / "gatehouse.env", "BCRYPT_ROUNDS=10\n")
    r = gatehouse("migrate", "--config", conf, cwd=work)
    assert r.returncode == 0, r.stderr
    assert (etc / "gatehouse-data" / "gatehouse.db").exists()
    assert not (work / "gatehouse-data").exists()


def test_relative_paths_from_the_environment_stay_relative_to_the_working_directory(tmp_path):
    etc = tmp_path / "etc"
    work = tmp_path / "work"
    work.mkdir()
    conf = write(etc / "gatehouse.env", "BCRYPT_ROUNDS=10\n")
    r = gatehouse("migrate", "--config", conf, cwd=work,
                  env={"DATABASE_URL": "sqlite:///envdata/g.db"})
    assert r.returncode == 0, r.stderr
    assert (work / "envdata" / "g.db").exists()
    assert not (etc / "envdata").exists() and not (etc / "gatehouse-data").exists()


# --- serve -----------------------------------------------------------------------------------

def test_serve_listens_where_the_file_says(tmp_path, serve):
    port = free_port()
    etc = tmp_path / "etc"
    conf = write(etc / "gatehouse.env", f"""\
# systemd EnvironmentFile
export GATEHOUSE_LISTEN="127.0.0.1:{port}"
SECRET_KEY='{SECRET}'
BCRYPT_ROUNDS = 10   # fast for tests
DATABASE_URL=sqlite:///data/g.db
""")
    work = tmp_path / "work"
    work.mkdir()
    p = serve("serve", "--config", conf, cwd=work)
    assert p.wait_healthy(port).json() == {"status": "ok"}
    assert (etc / "data" / "g.db").exists()
    assert not (work / "data").exists()


def test_serve_listen_overrides_the_environment_and_the_file(tmp_path, serve):
    env_port, file_port, flag_port = free_port(), free_port(), free_port()
    conf = write(tmp_path / "g.env", f"GATEHOUSE_LISTEN=127.0.0.1:{file_port}\nBCRYPT_ROUNDS=10\n"
                                     f"DATABASE_URL=sqlite:///data/g.db\nSECRET_KEY={SECRET}\n")
    p = serve("serve", "--listen", f"127.0.0.1:{flag_port}", "--config", conf,
              env={"GATEHOUSE_LISTEN": f"127.0.0.1:{env_port}"})
    p.wait_healthy(flag_port)
    assert refuses(env_port) and refuses(file_port)


def test_config_flag_may_come_before_serve(tmp_path, serve):
    port = free_port()
    conf = write(tmp_path / "g.env", f"BCRYPT_ROUNDS=10\nDATABASE_URL=sqlite:///data/g.db\n"
                                     f"SECRET_KEY={SECRET}\n")
    p = serve("--config", conf, "serve", "--listen", f"127.0.0.1:{port}")
    p.wait_healthy(port)
    assert (tmp_path / "data" / "g.db").exists()


def test_serve_warns_about_a_plain_http_public_url(tmp_path, serve):
    port = free_port()
    p = serve("serve", "--listen", f"127.0.0.1:{port}", env={
        "SECRET_KEY": SECRET, "BCRYPT_ROUNDS": "10",
        "DATABASE_URL": f"sqlite:///{tmp_path}/data/g.db",
        "GATEHOUSE_PUBLIC_URL": "http://auth.example.test"})
    p.wait_healthy(port)
    assert ("warning GATEHOUSE_PUBLIC_URL is plain http on a host that is not loopback"
            in p.log_text())


def _startup_cases(tmp):
    missing = str(tmp / "missing.pem")
    return {
        "oidc-ca": ({"OIDC_CA_FILE": missing}, f"OIDC_CA_FILE: cannot read {missing}"),
        "smtp-ca": ({"SMTP_CA_FILE": missing}, f"SMTP_CA_FILE: cannot read {missing}"),
        "redis-ca": ({"REDIS_URL": "rediss://cache.example:6380", "REDIS_CA_FILE": missing},
                     f"REDIS_CA_FILE: cannot read {missing}"),
        "trust-store": ({"WEBAUTHN_TRUST_STORE": missing},
                        f"WEBAUTHN_TRUST_STORE: cannot read {missing}"),
        "policy": ({"GATEHOUSE_POLICY_FILE": str(tmp / "policy.json")},
                   f"GATEHOUSE_POLICY_FILE: cannot read {tmp}/policy.json"),
        "frontend-url": ({"FRONTEND_URL": "app.example.com"},
                         "FRONTEND_URL: must start with http:// or https://"),
        "legacy-alone": ({"LEGACY_SECRET_KEY": "zz-legacy-secret-long-enough-for-hs256-keys"},
                         "LEGACY_SECRET_KEY: LEGACY_SECRET_KEY and LEGACY_TOKENS_UNTIL go together"),
        "legacy-until-alone": ({"LEGACY_TOKENS_UNTIL": "2030-01-01T00:00:00Z"},
                               "LEGACY_TOKENS_UNTIL go together"),
        "legacy-malformed": ({"LEGACY_SECRET_KEY": "zz-legacy-secret-long-enough-for-hs256-keys",
                              "LEGACY_TOKENS_UNTIL": "next year"},
                             "LEGACY_TOKENS_UNTIL: must be an RFC 3339 time"),
        "legacy-31-feb": ({"LEGACY_SECRET_KEY": "zz-legacy-secret-long-enough-for-hs256-keys",
                           "LEGACY_TOKENS_UNTIL": "2030-02-31T00:00:00Z"},
                          "LEGACY_TOKENS_UNTIL: must be an RFC 3339 time"),
        "ca-is-a-folder": ({"OIDC_CA_FILE": str(tmp)}, f"OIDC_CA_FILE: cannot read {tmp}"),
        "mfa-role": ({"MFA_REQUIRED_ROLES": "admin,admni"}, "MFA_REQUIRED_ROLES: no role named admni"),
        "legacy-short": ({"LEGACY_SECRET_KEY": "too-short", "LEGACY_TOKENS_UNTIL": "2030-01-01T00:00:00Z"},
                         "LEGACY_SECRET_KEY: must be at least 32 bytes"),
        # Long enough, and still anyone's: the FastAPI tutorial's key, a docs placeholder, one
        # character repeated.
        "secret-published": ({"SECRET_KEY": FASTAPI_TUTORIAL_KEY},
                             "SECRET_KEY: is not a secret: it is an example published"),
        "legacy-published": ({"LEGACY_SECRET_KEY": FASTAPI_TUTORIAL_KEY,
                              "LEGACY_TOKENS_UNTIL": "2030-01-01T00:00:00Z"},
                             "LEGACY_SECRET_KEY: is not a secret: it is an example published"),
        "mfa-repeated": ({"MFA_SECRET_KEY": "q" * 48},
                         "MFA_SECRET_KEY: is not a secret: it holds 48 bytes of only 1 distinct values"),
    }


FASTAPI_TUTORIAL_KEY = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"


@pytest.mark.parametrize("case", ["oidc-ca", "smtp-ca", "redis-ca", "trust-store", "policy",
                                  "frontend-url", "legacy-alone", "legacy-until-alone",
                                  "legacy-malformed", "legacy-31-feb", "ca-is-a-folder", "legacy-short", "mfa-role",
                                  "secret-published", "legacy-published", "mfa-repeated"])
def test_startup_refuses_bad_settings(tmp_path, case):
    settings, expected = _startup_cases(tmp_path)[case]
    port = free_port()
    try:
        r = subprocess.run([BIN, "serve", "--listen", f"127.0.0.1:{port}"], env=clean_env(**{
            "SECRET_KEY": SECRET, "DATABASE_URL": f"sqlite:///{tmp_path}/data/g.db", **settings}),
            capture_output=True, text=True, timeout=8)
    except subprocess.TimeoutExpired as e:  # run() has killed it
        r = None
        started = e.stderr.decode(errors="replace") if e.stderr else ""
    if r is None:
        pytest.fail(f"serve started instead of refusing:\n{started}", pytrace=False)
    assert r.returncode == 1, r.stderr
    assert "gatehouse: configuration error: " in r.stderr and expected in r.stderr, r.stderr
    assert "zz-legacy-secret" not in r.stderr + r.stdout
    for name, value in settings.items():  # a secret refused is named, never shown
        assert not name.endswith("_KEY") or value not in r.stderr + r.stdout, name
    assert not (tmp_path / "data" / "g.db").exists()


def test_startup_refuses_a_bad_file(tmp_path):
    conf = write(tmp_path / "g.env", "SECRET_KEY=x\nDATABSE_URL=sqlite:///data/g.db\n")
    r = gatehouse("serve", "--listen", f"127.0.0.1:{free_port()}", "--config", conf, cwd=tmp_path)
    assert r.returncode == 1
    assert (f"gatehouse: configuration error: {conf}:2: unknown setting DATABSE_URL "
            "(did you mean DATABASE_URL?)") in r.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "gatehouse-data").exists()


# --- gatehouse roles -------------------------------------------------------------------------

def test_roles_lists_the_built_in_roles(tmp_path):
    r = gatehouse("roles", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"{role}: {perms}" for role, perms in DEFAULT_ROLES.items()]


def test_roles_adds_the_policy_file(tmp_path):
    policy = write(tmp_path / "policy.json", json.dumps({
        "permissions": ["reports:view"],
        "roles": {"analyst": ["users:read", "reports:view"], "user": ["posts:read"]}}))
    r = gatehouse("roles", cwd=tmp_path, env={"GATEHOUSE_POLICY_FILE": str(policy)})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "analyst: reports:view users:read" in lines
    # admin holds every permission, the policy's too; the policy may redefine a built-in role.
    assert f"admin: {DEFAULT_ROLES['admin']}".replace("roles:manage", "reports:view roles:manage") in lines
    assert f"moderator: {DEFAULT_ROLES['moderator']}" in lines
    assert "user: posts:read" in lines


def test_roles_refuses_a_bad_policy_file(tmp_path):
    policy = write(tmp_path / "policy.json", "not json")
    r = gatehouse("roles", cwd=tmp_path, env={"GATEHOUSE_POLICY_FILE": str(policy)})
    assert r.returncode == 1
    assert "GATEHOUSE_POLICY_FILE" in r.stderr


def test_files_in_the_wrong_shape_are_named_never_waited_on(tmp_path):
    """A FIFO where a file is read (the configuration file, the data directory's
    key_encryption_key or dummy_hash) hung the start or `config --check` for good; a misspelt
    GATEHOUSE_TEMPLATE_DIR left the built-in templates unheard; an AUDIT_LOG_FILE in a missing
    folder or behind a link ran the server without it, or wrote through the link."""
    data = tmp_path / "data"
    data.mkdir()
    env = {"DATABASE_URL": f"sqlite:///{data}/g.db", "SECRET_KEY": SECRET}
    fifo = tmp_path / "gatehouse.env"
    os.mkfifo(fifo)
    r = gatehouse("config", "--check", "--config", fifo, env=env, cwd=tmp_path)
    assert r.returncode != 0 and f"configuration file {fifo}: cannot read it (not a regular file)" in r.stderr
    os.mkfifo(data / "key_encryption_key")
    r = gatehouse("config", "--check", env={**env, "GATEHOUSE_TEMPLATE_DIR": str(tmp_path / "templtes"),
                                            "AUDIT_LOG_FILE": str(tmp_path / "logs" / "audit.jsonl")},
                  cwd=tmp_path)
    assert r.returncode == 1
    for line in (f"cannot read {data / 'key_encryption_key'}: not a regular file",
                 f"GATEHOUSE_TEMPLATE_DIR: {tmp_path / 'templtes'} is not a folder that exists",
                 f"AUDIT_LOG_FILE: {tmp_path / 'logs'} is not a folder that exists"):
        assert line in r.stderr, (line, r.stderr)
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's\n")
    (tmp_path / "audit.jsonl").symlink_to(victim)
    r = gatehouse("config", "--check", env={**env, "AUDIT_LOG_FILE": str(tmp_path / "audit.jsonl"),
                                            "MAIL_FILE": str(tmp_path), "SMTP_FROM": "a@example.com"},
                  cwd=tmp_path)
    assert f"AUDIT_LOG_FILE: {tmp_path / 'audit.jsonl'} is not a regular file" in r.stderr, r.stderr
    assert f"MAIL_FILE: {tmp_path} is not a regular file" in r.stderr, r.stderr
    (data / "key_encryption_key").unlink()
    # A dummy_hash that is a FIFO is made again (a hash is no secret), not waited on.
    os.mkfifo(data / "dummy_hash")
    port = free_port()
    audit = tmp_path / "audit" / "audit.jsonl"
    audit.parent.mkdir()
    audit.write_text("")  # made by an earlier version, readable by everyone
    os.chmod(audit, 0o644)
    p = subprocess.Popen([BIN, "serve"], env=clean_env(**env, GATEHOUSE_LISTEN=f"127.0.0.1:{port}",
                                                       AUDIT_LOG_FILE=str(audit)),
                         cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert ready(f"http://127.0.0.1:{port}"), "the server did not start beside a FIFO named dummy_hash"
    finally:
        p.terminate()
        p.wait(timeout=30)
    assert victim.read_text() == "someone else's\n"
    # The audit log is its owner's alone (the events name users and addresses), one made before
    # included.
    assert (audit.stat().st_mode & 0o777) == 0o600


def test_a_file_someone_else_planted_is_never_appended_to(tmp_path):
    """The audit log names users and addresses, the mail file holds live links: a file another
    user made at their path (a shared folder, before the first start) could be read by that user.
    `config --check` and the start refuse it, naming the owner, and write nothing to it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file away")
    data = tmp_path / "data"
    data.mkdir()
    env = {"DATABASE_URL": f"sqlite:///{data}/g.db", "SECRET_KEY": SECRET}
    planted = {name: tmp_path / name for name in ("audit.jsonl", "mail.mbox")}
    for path in planted.values():
        path.write_text("")
        os.chmod(path, 0o666)
        os.chown(path, 4242, 4242)
    files = {"AUDIT_LOG_FILE": str(planted["audit.jsonl"]), "MAIL_FILE": str(planted["mail.mbox"]),
             "SMTP_FROM": "a@example.com"}
    r = gatehouse("config", "--check", env={**env, **files}, cwd=tmp_path)
    assert r.returncode == 1
    for setting, path in (("AUDIT_LOG_FILE", planted["audit.jsonl"]), ("MAIL_FILE", planted["mail.mbox"])):
        line = f"{setting}: {path} belongs to another user (uid 4242), who could read what is written to it"
        assert line in r.stderr, (line, r.stderr)
    port = free_port()
    r = subprocess.run([BIN, "serve"], env=clean_env(**env, **files, GATEHOUSE_LISTEN=f"127.0.0.1:{port}"),
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "belongs to another user" in r.stderr, r.stderr
    for path in planted.values():
        assert path.read_text() == "" and (path.stat().st_mode & 0o777) == 0o666


def test_a_redis_password_without_a_user_is_not_shown(tmp_path):
    """redis://secret@host: Redis reads a user part without ':' as the password."""
    r = gatehouse("config", env={"REDIS_URL": "redis://zzRedisS3cret@cache.example:6379/1"}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "zzRedisS3cret" not in r.stdout + r.stderr
    assert "redis://***@cache.example:6379/1" in r.stdout


@pytest.mark.parametrize("url", ["postgresql://alice:S3cret%zzPW1@127.0.0.1:1/db",
                                 "postgresql://alice:S3cret%zzPW1@[::1/db"])
def test_a_database_url_libpq_cannot_parse_is_refused_without_its_password(tmp_path, url):
    """An outside attack: a password holding a bare '%' (or a broken IPv6 host) made libpq quote
    the URL back, and migrate, serve and import-seed printed it, password and all."""
    for args in (("migrate",), ("import-seed", "--database-url", url)):
        r = gatehouse(*args, env={"DATABASE_URL": url, "SECRET_KEY": SECRET}, cwd=tmp_path)
        assert r.returncode != 0, (args, r.stdout, r.stderr)
        assert "S3cret" not in r.stdout + r.stderr, (args, r.stderr)
        assert "PostgreSQL" in r.stderr or "seed database" in r.stderr, (args, r.stderr)


def test_check_reads_redis_and_sqlite_urls_as_serve_does(tmp_path):
    """An outside attack: config --check passed REDIS_URL=redis://cache:6x79 that serve then
    refused, and DATABASE_URL=sqlite:///x.db?password=zz made a file of that name."""
    r = gatehouse("config", "--check", env={"REDIS_URL": "redis://cache.example:6x79/0"}, cwd=tmp_path)
    assert r.returncode == 1 and "REDIS_URL: bad port" in r.stderr, (r.stdout, r.stderr)
    for url in ("sqlite:///data/x.db?password=zzS3cret", "sqlite:///data/x.db#frag"):
        r = gatehouse("migrate", env={"DATABASE_URL": url}, cwd=tmp_path)
        assert r.returncode != 0 and "cannot hold '?' or '#'" in r.stderr, (url, r.stdout, r.stderr)
        assert "zzS3cret" not in r.stderr
        assert not (tmp_path / "data").exists(), url


def test_check_warns_about_a_database_it_cannot_reach(tmp_path):
    """An outside test of the package: config --check said 'valid' for a PostgreSQL server nobody
    answers at, where serve stops. It still exits 0 (a check may run where the database is not
    reachable), but says so, with the password hidden."""
    port = free_port()  # nothing listens there
    url = f"postgresql://gatehouse:zzPgS3cret@127.0.0.1:{port}/gatehouse"
    r = gatehouse("config", "--check", env={"DATABASE_URL": url, "SECRET_KEY": SECRET}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    warning = [line for line in r.stdout.splitlines() if "warning: DATABASE_URL:" in line]
    assert warning and "the keys stored in it were not checked" in warning[0], r.stdout
    assert "zzPgS3cret" not in r.stdout + r.stderr


def test_the_audit_log_may_be_a_stream(tmp_path):
    """/dev/stdout and a FIFO a log shipper reads are taken as AUDIT_LOG_FILE (a regular file
    behind a link is not): events reach the reader. A FIFO nobody reads stops the start."""
    data = tmp_path / "data"
    data.mkdir()
    env = {"DATABASE_URL": f"sqlite:///{data}/g.db", "SECRET_KEY": SECRET}
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        for stream in ("/dev/stdout", str(fifo)):
            r = gatehouse("config", "--check", env={**env, "AUDIT_LOG_FILE": stream}, cwd=tmp_path)
            assert r.returncode == 0 and "AUDIT_LOG_FILE" not in r.stderr, r.stderr
        port = free_port()
        p = subprocess.Popen([BIN, "serve"], env=clean_env(**env, GATEHOUSE_LISTEN=f"127.0.0.1:{port}",
                                                           AUDIT_LOG_FILE=str(fifo)),
                             cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            assert ready(base), "the server did not start"
            deadline = time.monotonic() + 30
            assert requests.post(base + "/api/v1/auth/register", json={
                "email": "fifo@example.com", "username": "fifo", "password": "Passw0rd!x"}).status_code == 201
            got = b""
            while b"user.registered" not in got and time.monotonic() < deadline:
                try:
                    got += os.read(reader, 65536)
                except BlockingIOError:
                    time.sleep(0.05)
            assert b"user.registered" in got, got[-500:]
        finally:
            p.terminate()
            p.wait(timeout=30)
    finally:
        os.close(reader)
    # Nobody reading it at the start: the start stops (the preflight cannot tell; the open can),
    # rather than running without the events' copy.
    r = subprocess.run([BIN, "serve"], env=clean_env(**env, GATEHOUSE_LISTEN=f"127.0.0.1:{free_port()}",
                                                     AUDIT_LOG_FILE=str(fifo)),
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr[-2000:]
    assert f"AUDIT_LOG_FILE: cannot open {fifo}: No such device or address" in r.stderr, r.stderr[-2000:]


def test_root_refuses_a_database_where_another_account_can_put_a_link(tmp_path):
    """An outside attack on the package: the service's account put a link to /etc/nologin where
    the database belongs, and root's `gatehouse migrate` (which the CLI's own hint suggests)
    created that file. As root, a command now refuses a SQLite database in a folder another
    account can write, naming who and `runuser`, and creates nothing."""
    if os.geteuid() != 0:
        pytest.skip("the refusal is root's")
    target = tmp_path / "etc-nologin"
    cases = []
    owned = tmp_path / "owned"  # the package's data directory: its own user's
    owned.mkdir()
    os.chown(owned, 65534, 65534)
    os.symlink(target, owned / "g.db")
    cases.append((owned, "is writable by user nobody", "runuser -u nobody -- gatehouse"))
    for mode, who in ((0o777, "every user"), (0o1777, "every user"), (0o775, "group ")):
        shared = tmp_path / f"shared-{mode:o}"
        shared.mkdir()
        os.chmod(shared, mode)
        cases.append((shared, f"is writable by {who}", None))
    below = tmp_path / "below"  # a root folder inside one another account can rename
    below.mkdir()
    os.chown(below, 65534, 65534)
    (below / "db").mkdir()
    cases.append((below / "db", f"{below} is writable by user nobody", "runuser -u nobody"))
    # A root folder reached through a link that sits in another account's folder, and a root
    # link leading into a root folder inside another account's folder: either way that account
    # can point root elsewhere.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 4242, 4242)
    (tmp_path / "rootdb").mkdir()
    os.symlink(tmp_path / "rootdb", theirs / "link")
    cases.append((theirs / "link", f"{theirs} is writable by uid 4242", None))
    (theirs / "sub").mkdir()
    os.symlink(theirs / "sub", tmp_path / "rootlink")
    cases.append((tmp_path / "rootlink", f"{theirs} is writable by uid 4242", None))
    # Root's own link to the database file in the service's folder, which that account made a
    # link to a database of root's (a review: root's migrate wrote into it).
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    (victim / "app.db").write_bytes(b"")
    os.symlink(victim / "app.db", theirs / "gatehouse.db")
    (tmp_path / "rootside").mkdir(mode=0o700)
    os.symlink(theirs / "gatehouse.db", tmp_path / "rootside" / "g.db")
    cases.append((tmp_path / "rootside", f"{theirs} is writable by uid 4242", None))
    # A folder still to be made right under a sticky one: anyone may make it first.
    sticky_top = tmp_path / "sticky-top"
    sticky_top.mkdir()
    os.chmod(sticky_top, 0o1777)
    cases.append((sticky_top, f"{sticky_top} is writable by every user", None))
    for folder, says, hint in cases:
        before = sorted(os.listdir(folder))
        db = f"{folder}/later/g.db" if folder == sticky_top else f"{folder}/g.db"
        env = {"DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": SECRET}
        for args in (("migrate",), ("user", "list"), ("config", "--check"), ("keys", "list")):
            r = gatehouse(*args, env=env, cwd=tmp_path)
            assert r.returncode == 1, (folder, args, r.stdout)
            assert f"not run as root on {db}" in r.stderr and says in r.stderr, (args, r.stderr)
            if hint:
                assert hint in r.stderr, r.stderr
            else:
                assert "runuser" not in r.stderr, r.stderr
        assert sorted(os.listdir(folder)) == before, folder
    assert not target.exists()
    assert (victim / "app.db").read_bytes() == b""

    # Root's own folders, and /tmp's kind above them (sticky: only an entry's owner renames it).
    mine = tmp_path / "mine"
    mine.mkdir()
    os.chmod(mine, 0o700)
    r = gatehouse("migrate", env={"DATABASE_URL": f"sqlite:///{mine}/g.db"}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    (sticky / "root-only").mkdir(mode=0o700)
    r = gatehouse("migrate", env={"DATABASE_URL": f"sqlite:///{sticky}/root-only/g.db"}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_a_database_is_never_created_through_a_dangling_link(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    target = tmp_path / "elsewhere.db"
    os.symlink(target, data / "g.db")
    r = gatehouse("migrate", env={"DATABASE_URL": f"sqlite:///{data}/g.db"}, cwd=tmp_path)
    assert r.returncode == 1
    assert f"{data}/g.db is a link to nothing: not created through it" in r.stderr, r.stderr
    assert not target.exists()


def test_a_command_whose_audit_line_cannot_be_written_changes_nothing(tmp_path):
    """An outside attack on the package: root's `user create --role admin`, with AUDIT_LOG_FILE
    owned by the service's user, exited 0 and left no line in the exported audit stream."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file away")
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    env = {"DATABASE_URL": f"sqlite:///{data}/g.db", "SECRET_KEY": SECRET}
    assert gatehouse("migrate", env=env, cwd=tmp_path).returncode == 0
    audit = tmp_path / "audit.jsonl"
    audit.write_text("")
    os.chown(audit, 4242, 4242)
    r = subprocess.run([BIN, "user", "create", "--email", "new-admin@example.com", "--username",
                        "newadmin", "--role", "admin", "--password-stdin"],
                       env=clean_env(**env, AUDIT_LOG_FILE=str(audit)), cwd=tmp_path,
                       input="Adm1n-Passw0rd!\n", capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout
    assert "AUDIT_LOG_FILE:" in r.stderr and "nothing was changed" in r.stderr, r.stderr
    listed = gatehouse("user", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "new-admin@example.com" not in listed.stdout, listed.stdout
    # Nor a new signing key, nor a client (whose command made the master secret before it
    # refused, a review), nor the key-encryption key: the key ring and the folder are as before.
    ring = lambda: sqlite3.connect(data / "g.db").execute(  # noqa: E731
        "SELECT purpose, generation FROM key_ring ORDER BY 1, 2").fetchall()
    before, files = ring(), sorted(os.listdir(data))
    for args in (("keys", "rotate"), ("client", "create", "--name", "App", "--redirect-uri",
                                      "https://app.example.com/cb")):
        r = gatehouse(*args, env={**env, "AUDIT_LOG_FILE": str(audit)}, cwd=tmp_path)
        assert r.returncode == 1 and "nothing was changed" in r.stderr, (args, r.stdout, r.stderr)
    assert ring() == before and sorted(os.listdir(data)) == files
    assert audit.read_text() == ""
    # A review: only the name's last part was held to "never a link". Below a folder another
    # account can write, that account could turn the folder on the way into a link, and root
    # would append to, or create, a file of its choosing: refused as for the database.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 4242, 4242)
    (theirs / "logs").mkdir()
    below = theirs / "logs" / "audit.jsonl"
    r = subprocess.run([BIN, "user", "create", "--email", "new-admin@example.com", "--username",
                        "newadmin", "--role", "admin", "--password-stdin"],
                       env=clean_env(**env, AUDIT_LOG_FILE=str(below)), cwd=tmp_path,
                       input="Adm1n-Passw0rd!\n", capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout
    assert f"AUDIT_LOG_FILE: not run as root on {below}: {theirs} is writable by uid 4242" in r.stderr, r.stderr
    assert "nothing was changed" in r.stderr, r.stderr
    assert not below.exists()
    listed = gatehouse("user", "list", env=env, cwd=tmp_path)
    assert "new-admin@example.com" not in listed.stdout, listed.stdout
    # With a file it may write, the same command is made and written down.
    os.chown(audit, 0, 0)
    os.chmod(audit, 0o600)
    r = subprocess.run([BIN, "user", "create", "--email", "new-admin@example.com", "--username",
                        "newadmin", "--role", "admin", "--password-stdin"],
                       env=clean_env(**env, AUDIT_LOG_FILE=str(audit)), cwd=tmp_path,
                       input="Adm1n-Passw0rd!\n", capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert '"user.created"' in audit.read_text() or "user." in audit.read_text()


def test_a_command_says_when_its_audit_line_could_not_be_written(server, tmp_path):
    """The review of the audit file's writer thread: a command whose AUDIT_LOG_FILE reader had
    stopped gave up its line after a few seconds, silently, and exited 0 (before that thread it
    waited for ever). It still ends, and says what the copy lacks (the database has it)."""
    import fcntl

    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo, 0o600)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, and never reading
    fcntl.fcntl(reader, 1031, 4096)  # F_SETPIPE_SZ: one page
    writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(writer, b"x" * 4096)  # full
        started = time.monotonic()
        r = subprocess.run([os.environ["GATEHOUSE_BIN"], "user", "create", "--email", "lost@example.com",
                            "--username", "lostline", "--password-stdin"],
                           env={**server.env, "AUDIT_LOG_FILE": str(fifo)}, input="Passw0rd!x\n",
                           capture_output=True, text=True, timeout=60)
        took = time.monotonic() - started
    finally:
        os.close(writer)
        os.close(reader)
    assert r.returncode == 0, r.stderr
    assert "1 audit record(s) could not be written to AUDIT_LOG_FILE" in r.stderr, r.stderr
    assert took < 20, took
    assert server.login("lostline").status_code == 200
