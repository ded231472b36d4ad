"""systemd's readiness protocol (Type=notify in packaging/gatehouse.service): READY=1 once the
socket listens, STOPPING=1 on the way out, nothing from a start that fails, and a NOTIFY_SOCKET
no service manager would pass refused at start."""
import os
import signal
import subprocess
import socket
import tempfile

import requests

from conftest import BIN, Server


def bound_socket(address):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(address)
    s.settimeout(60)
    return s


def test_ready_once_listening_then_stopping(make_server):
    # A path, as systemd passes (/run/systemd/notify); a short directory: sun_path holds 108 bytes.
    directory = tempfile.mkdtemp(prefix="gh-notify-", dir="/tmp")
    path = os.path.join(directory, "notify")
    listener = bound_socket(path)
    try:
        s = make_server({"NOTIFY_SOCKET": path}, start=False)
        s.start(wait=False)
        message = listener.recv(4096)
        # Ready means ready: the first request after the message is answered, without a retry.
        assert requests.get(s.url("/readyz"), timeout=5).status_code == 200
        assert message == f"READY=1\nSTATUS=listening on 127.0.0.1:{s.port}".encode()
        s.proc.send_signal(signal.SIGTERM)
        assert listener.recv(4096) == b"STOPPING=1"
        assert s.proc.wait(timeout=30) == 0
    finally:
        listener.close()
        os.unlink(path)
        os.rmdir(directory)


def serve_failing(tmp_path, env):
    """A start that is expected to stop: its exit code and its log."""
    s = Server(tmp_path, env)
    r = subprocess.run([BIN, "serve"], env=s.env, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def test_a_failed_start_never_says_ready(tmp_path):
    name = f"gatehouse-notify-{os.getpid()}-failed"
    listener = bound_socket("\0" + name)
    try:
        # Not a database: the start stops at opening it, before listening.
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "gatehouse.db").write_bytes(b"not a database, " * 512)
        code, log = serve_failing(tmp_path, {"NOTIFY_SOCKET": "@" + name})
        assert code == 1, log[-2000:]
        listener.settimeout(0.5)
        try:
            got = listener.recv(4096)
        except socket.timeout:
            got = None
        assert got is None, got
    finally:
        listener.close()


def test_a_notify_socket_no_manager_would_pass_is_refused(tmp_path):
    for value in ("run/systemd/notify", "vsock:2:1234", "@", "/" + "p" * 120):
        code, log = serve_failing(tmp_path, {"NOTIFY_SOCKET": value})
        assert code == 1, log[-2000:]
        assert "configuration error: NOTIFY_SOCKET: " in log, log[-2000:]
        assert "listening" not in log


def test_nobody_listening_is_logged_and_the_server_serves(make_server):
    directory = tempfile.mkdtemp(prefix="gh-notify-", dir="/tmp")
    try:
        s = make_server({"NOTIFY_SOCKET": os.path.join(directory, "gone")}, start=False)
        s.start()  # no READY=1 to wait for: /readyz decides
        assert requests.get(s.url("/readyz"), timeout=5).status_code == 200
        assert "NOTIFY_SOCKET: could not tell the service manager the server is ready" in s.log_text()
    finally:
        os.rmdir(directory)


def test_commands_other_than_serve_send_nothing(tmp_path):
    name = f"gatehouse-notify-{os.getpid()}-cli"
    listener = bound_socket("\0" + name)
    try:
        env = {"PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": "@" + name, "SECRET_KEY": "x" * 40,
               "DATABASE_URL": f"sqlite:///{tmp_path}/gatehouse.db", "GATEHOUSE_DATA_DIR": str(tmp_path)}

        assert subprocess.run([BIN, "migrate"], env=env, capture_output=True, timeout=60).returncode == 0
        listener.settimeout(0.3)
        try:
            got = listener.recv(4096)
        except socket.timeout:
            got = None
        assert got is None, got
    finally:
        listener.close()
