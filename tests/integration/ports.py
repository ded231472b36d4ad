"""Loopback ports for the servers the tests start."""
import os
import random
import socket


def _ephemeral_start():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


# Ports just below the kernel's ephemeral range, where no outgoing connection and no bind to
# port 0 lands; under pytest-xdist each worker takes its own slice of them.
_END = _ephemeral_start()
_START = max(1024, _END - 12000)
_handed_out = set()
_next = None


def free_port():
    """A loopback port nothing listens on now, and one this run never handed out before: two
    calls before either port is bound cannot get the same one, nor can two pytest-xdist workers,
    nor a server that binds port 0 and lets the kernel choose."""
    global _next
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker[2:]) % count  # a worker that replaces a crashed one is numbered past count
    span = (_END - _START) // count
    if span < 100:
        raise RuntimeError(f"ports {_START}..{_END - 1} below the ephemeral range are too few for "
                           f"{count} worker(s): widen net.ipv4.ip_local_port_range's start")
    first = _START + index * span
    if _next is None:
        _next = random.randrange(span)  # another run at the same time most likely starts elsewhere
    for _ in range(span):
        port = first + _next % span
        _next += 1
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {first}..{first + span - 1}")
