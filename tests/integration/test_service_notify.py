"""systemd's readiness protocol (Type=notify in packaging/gatehouse.service): READY=1 once the
socket listens, STOPPING=1 as soon as shutdown begins, nothing from a start that fails, and a
NOTIFY_SOCKET the server cannot use logged without stopping it."""
import os
import signal
import socket
import tempfile
import time

import requests

from conftest import Server, notify_listener


def test_ready_once_listening_and_stopping_before_requests_in_flight_end(make_server):
    # A path, as systemd passes (/run/systemd/notify); a short directory: sun_path holds 108 bytes.
    directory = tempfile.mkdtemp(prefix="gh-notify-", dir="/tmp")
    path = os.path.join(directory, "notify")
    listener, value = notify_listener(path, timeout=60)
    try:
        s = make_server({"NOTIFY_SOCKET": value}, start=False)
        s.start(wait=False)
        assert listener.recv(4096) == b"STATUS=opening and migrating the database"
        ready = listener.recv(4096)
        # Ready means ready: the first request after the message is answered, without a retry.
        assert requests.get(s.url("/readyz"), timeout=5).status_code == 200
        assert ready == f"READY=1\nSTATUS=listening on 127.0.0.1:{s.port}".encode()
        # A request in flight (its body half sent) keeps the server up for the shutdown's grace;
        # the service manager hears of the shutdown at its start, not when that request ends.
        slow = socket.create_connection(("127.0.0.1", s.port))
        slow.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\nuser")
        time.sleep(0.2)
        s.proc.send_signal(signal.SIGTERM)
        listener.settimeout(5)  # well within the 10 s grace the slow request holds the server for
        assert listener.recv(4096) == b"STOPPING=1"
        assert s.proc.poll() is None, "STOPPING=1 came only once the server had exited"
        slow.sendall(b"name=nobody&password=not-the-password-x")
        slow.settimeout(30)
        assert slow.recv(4096).startswith(b"HTTP/1.1 ")  # answered within the grace
        slow.close()
        assert s.proc.wait(timeout=30) == 0
    finally:
        listener.close()
        os.unlink(path)
        os.rmdir(directory)


def test_a_start_that_cannot_listen_never_says_ready(tmp_path):
    listener, value = notify_listener(timeout=0.5)
    taken = socket.socket()
    try:
        # Listening is the last step before READY=1: its port is taken.
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        r = Server(tmp_path, {"NOTIFY_SOCKET": value,
                              "GATEHOUSE_LISTEN": f"127.0.0.1:{taken.getsockname()[1]}"}).serve_to_exit()
        assert r.returncode == 1, (r.stdout + r.stderr)[-2000:]
        messages = []
        try:
            while True:
                messages.append(listener.recv(4096))
        except socket.timeout:
            pass
        assert messages == [b"STATUS=opening and migrating the database"], messages
    finally:
        taken.close()
        listener.close()


def test_a_notify_socket_it_cannot_use_is_logged_and_the_server_serves(make_server):
    for value in ("run/systemd/notify", "vsock:2:1234", "@", "/" + "p" * 120):
        s = make_server({"NOTIFY_SOCKET": value})  # no READY=1 to wait for: /readyz decides
        assert requests.get(s.url("/readyz"), timeout=5).status_code == 200
        log = s.log_text()
        assert "NOTIFY_SOCKET: " in log and "is not told when the server is ready" in log, log[-2000:]
        s.stop()


def test_nobody_listening_is_logged_and_the_server_serves(make_server):
    directory = tempfile.mkdtemp(prefix="gh-notify-", dir="/tmp")
    try:
        s = make_server({"NOTIFY_SOCKET": os.path.join(directory, "gone")})
        assert requests.get(s.url("/readyz"), timeout=5).status_code == 200
        assert "NOTIFY_SOCKET: could not tell the service manager the server is ready" in s.log_text()
    finally:
        os.rmdir(directory)
