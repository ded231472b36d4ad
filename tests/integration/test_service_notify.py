"""systemd's readiness protocol (Type=notify in packaging/gatehouse.service): READY=1 once the
socket listens, STOPPING=1 as soon as shutdown begins, nothing from a start that fails, and a
NOTIFY_SOCKET the server cannot use logged without stopping it; and its watchdog (WatchdogSec=):
WATCHDOG=1 every half WATCHDOG_USEC while serving, for this process only, never after STOPPING=1."""
import os
import signal
import socket
import tempfile
import time

import requests

from conftest import Server, fd_limit_fault, notify_listener


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
        assert ready == ready_message(s)
        # A request in flight (its body half sent) keeps the server up for the shutdown's grace;
        # the service manager hears of the shutdown at its start, not when that request ends.
        slow = socket.create_connection(("127.0.0.1", s.port))
        slow.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\nuser")
        time.sleep(1)  # read: a request in flight, not an idle connection (a busy machine reads late)
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
        messages = received(listener, 0.5)  # the process has exited: all it sent is queued
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


def ready_message(s):
    return f"READY=1\nSTATUS=listening on 127.0.0.1:{s.port}".encode()


def received(listener, seconds):
    """Every datagram that arrives within `seconds`."""
    got = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        listener.settimeout(left)
        try:
            got.append(listener.recv(4096))
        except socket.timeout:
            break
    return got


def messages_until(listener, stop, limit=30.0):
    """The datagrams received until one equals `stop` (included) or `limit` seconds pass."""
    got = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        listener.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(listener.recv(4096))
        except socket.timeout:
            break
        if got[-1] == stop:
            break
    return got


def test_the_watchdog_is_fed_every_half_timeout_while_serving_and_not_after_stopping(tmp_path):
    listener, value = notify_listener(timeout=30)
    s = Server(tmp_path, {"NOTIFY_SOCKET": value, "WATCHDOG_USEC": "400000"})  # a beat per 0.2 s
    try:
        s.start(wait=False)
        before = messages_until(listener, ready_message(s))
        # The watchdog runs once the start is done: nothing of it while migrating.
        assert before == [b"STATUS=opening and migrating the database", ready_message(s)], before
        # What came in 1.5 s: about seven beats; a loop that beat without waiting would have sent
        # thousands, hence the upper bound (a slow machine only delays beats, it adds none).
        beats = received(listener, 1.5)
        assert beats and set(beats) == {b"WATCHDOG=1"}, beats
        assert len(beats) <= 30, len(beats)
        assert requests.get(s.url("/readyz"), timeout=5).status_code == 200
        s.proc.send_signal(signal.SIGTERM)
        after = messages_until(listener, b"STOPPING=1")
        assert after[-1:] == [b"STOPPING=1"] and set(after[:-1]) <= {b"WATCHDOG=1"}, after
        assert s.proc.wait(timeout=30) == 0
        late = received(listener, 0.5)
        assert late == [], f"{late!r} after STOPPING=1"
    finally:
        s.stop()
        listener.close()


def test_the_watchdog_is_fed_at_the_open_file_limit(tmp_path):
    """An outside find: each WATCHDOG=1 opened a socket of its own, so at the open-file limit
    (idle connections fill it, and the accept loop waits it out) the beats stopped and the
    service manager killed a server that was still serving its open connections. The socket is
    opened once, at the start."""
    env, fault = fd_limit_fault(tmp_path)
    listener, value = notify_listener(timeout=30)
    s = Server(tmp_path, {**env, "NOTIFY_SOCKET": value, "WATCHDOG_USEC": "400000"})
    try:
        s.start(wait=False)
        assert messages_until(listener, ready_message(s))[-1:] == [ready_message(s)]
        # Accepted before (a connection the kernel completed may still wait in the backlog:
        # answered once, it is the server's).
        held = socket.create_connection(("127.0.0.1", s.port), timeout=5)

        def health():
            held.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while not got.endswith(b"}"):  # the whole answer, its short JSON body last
                chunk = held.recv(4096)
                assert chunk, got
                got += chunk
            return got
        assert health().startswith(b"HTTP/1.1 200")
        fault.touch()
        beats = received(listener, 1.5)  # about seven
        assert len(beats) >= 3 and set(beats) == {b"WATCHDOG=1"}, beats
        assert "sending WATCHDOG=1" not in s.log_text()
        assert health().startswith(b"HTTP/1.1 200")  # and it serves what it holds
        held.close()
    finally:
        fault.unlink(missing_ok=True)
        s.stop()
        listener.close()


def test_a_watchdog_meant_for_another_process_is_not_fed(tmp_path):
    """WATCHDOG_PID names the watched process; a child that inherited the variables keeps quiet."""
    listener, value = notify_listener(timeout=30)
    s = Server(tmp_path, {"NOTIFY_SOCKET": value, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
    try:
        s.start(wait=False)
        assert messages_until(listener, ready_message(s))[-1] == ready_message(s)
        # Fifteen intervals of 0.1 s with nothing: it would have beaten about fifteen times.
        got = received(listener, 1.5)
        assert got == [], got
        assert requests.get(s.url("/readyz"), timeout=5).status_code == 200
    finally:
        s.stop()
        listener.close()


def test_a_watchdog_setting_it_cannot_use_is_logged_and_the_server_serves(tmp_path):
    listener, value = notify_listener(timeout=30)
    cases = [({"NOTIFY_SOCKET": value, "WATCHDOG_USEC": "30s"}, "WATCHDOG_USEC: not a positive number"),
             ({"NOTIFY_SOCKET": value, "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "me"},
              "WATCHDOG_PID: not a process id"),
             ({"WATCHDOG_USEC": "30000000", "NOTIFY_SOCKET": "vsock:2:1234"},
              "WATCHDOG_USEC is set but there is no usable NOTIFY_SOCKET")]
    try:
        for env, logged in cases:
            s = Server(tmp_path, env)
            s.start()  # no READY=1 to wait for on a listener the test owns: /readyz decides
            try:
                assert requests.get(s.url("/readyz"), timeout=5).status_code == 200
                log = s.log_text()
                assert logged in log and "WATCHDOG=1 is not sent" in log, log[-2000:]
            finally:
                s.stop()
            # What it sent to the test's listener (the next case starts clean): never a beat.
            sent = received(listener, 0.05)
            assert b"WATCHDOG=1" not in sent, sent
    finally:
        listener.close()


def test_the_largest_watchdog_usec_is_served_with_a_beat_an_hour(tmp_path):
    """WATCHDOG_USEC may hold up to 2^63-1: half of it as a timer in nanoseconds overflowed (the
    test build stopped at once on the signed overflow). The beat is capped at an hour."""
    listener, value = notify_listener(timeout=30)
    s = Server(tmp_path, {"NOTIFY_SOCKET": value, "WATCHDOG_USEC": str(2**63 - 1)})
    try:
        s.start(wait=False)
        assert messages_until(listener, ready_message(s))[-1] == ready_message(s)
        time.sleep(1)
        assert s.proc.poll() is None, s.log_text()[-2000:]
        assert requests.get(s.url("/readyz"), timeout=5).status_code == 200
        got = received(listener, 0.2)
        assert got == [], got  # no beat yet: the first is an hour away
    finally:
        s.stop()
        listener.close()
