"""A real SMTP server on loopback that keeps what it receives: aiosmtpd (Debian's
python3-aiosmtpd) in a thread, with STARTTLS and AUTH required by default, a throw-away CA made
with the openssl command line, and the messages parsed with Python's email package.

    sink = SmtpSink(tmp_path)            # STARTTLS + AUTH PLAIN/LOGIN (mailer / s3cret-smtp)
    sink.start()
    env = sink.env()                     # SMTP_URL, SMTP_CA_FILE, SMTP_FROM for gatehouse
    messages = sink.wait_for(1, timeout=20)
    sink.stop(); sink.start()            # the same port again ("SMTP down, then up")

Variants: starttls=False (plain SMTP: no STARTTLS offered; AUTH then allowed in clear text, so a
client that insists on TLS can be caught sending its password anyway), require_auth=False,
foreign_ca=True (a certificate from a CA that SmtpSink.env() does not name), implicit_tls=True
(TLS from the first byte, for smtps://). Every AUTH attempt is recorded with whether the
connection was encrypted at that moment (`auth_attempts`)."""
import asyncio
import collections
import email
import email.policy
import logging
import os
import socket
import ssl
import subprocess
import threading
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from ports import free_port

SMTP_USER = "mailer"
SMTP_PASSWORD = "s3cret-smtp"
SMTP_FROM = "Gatehouse <noreply@gatehouse.test>"

Envelope = collections.namedtuple("Envelope", "mail_from rcpt_tos tls login")
AuthAttempt = collections.namedtuple("AuthAttempt", "mechanism login password_ok tls")

# aiosmtpd logs every session at INFO and warns about its own deprecated login_data.
logging.getLogger("mail.log").setLevel(logging.ERROR)

_ca_cache = {}
_ca_lock = threading.Lock()


def make_ca(directory):
    """A throw-away CA and a server certificate for 127.0.0.1 (IP SAN) and localhost, made with
    the openssl command line under `directory`/smtp-tls; (ca_pem, cert_pem, key_pem) as strings.
    Made once per directory."""
    d = os.path.join(str(directory), "smtp-tls")
    with _ca_lock:
        if d in _ca_cache:
            return _ca_cache[d]
        os.makedirs(d, exist_ok=True)
        ca_key, ca_pem = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
        key, csr, cert = os.path.join(d, "server.key"), os.path.join(d, "server.csr"), os.path.join(d, "server.pem")
        ext = os.path.join(d, "server.ext")

        def run(*args):
            r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"

        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", f"/CN=Gatehouse test mail CA {os.path.basename(str(directory))}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", ca_key, "-out", ca_pem)
        run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", csr)
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid,issuer\n")
        run("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
            "-extfile", ext, "-out", cert)
        _ca_cache[d] = (ca_pem, cert, key)
        return _ca_cache[d]


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)  # a slow server: widens races between senders
        self.sink._received(server, session, envelope)
        return "250 2.0.0 Message accepted"


class _RecordingSMTP(SMTP):
    """aiosmtpd's SMTP that tells the sink about each connection, so stop() can cut them all."""

    def __init__(self, sink, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sink = sink

    def connection_made(self, transport):
        super().connection_made(transport)
        with self._sink._lock:
            self._sink._protocols.add(self)

    def connection_lost(self, error):
        with self._sink._lock:
            self._sink._protocols.discard(self)
        super().connection_lost(error)


class _Controller(Controller):
    def __init__(self, sink, *args, **kwargs):
        self._sink = sink
        super().__init__(*args, **kwargs)

    def factory(self):
        with warnings.catch_warnings():  # "Requiring AUTH while not requiring TLS": on purpose
            warnings.simplefilter("ignore", UserWarning)
            return _RecordingSMTP(self._sink, self.handler, **self.SMTP_kwargs)


def _encrypted(server):
    if server.session is not None and server.session.ssl is not None:
        return True  # after STARTTLS
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None  # implicit TLS


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts (see the module docstring)."""

    def __init__(self, tmp_path, starttls=True, require_auth=True, port=None, foreign_ca=False,
                 implicit_tls=False, user=SMTP_USER, password=SMTP_PASSWORD, delay=0.0):
        self.tmp_path = tmp_path
        self.starttls = starttls
        self.require_auth = require_auth
        self.implicit_tls = implicit_tls
        self.delay = delay
        self.port = port or free_port()
        self.user, self.password = user, password
        # The CA that gatehouse is told to trust; the sink's own certificate comes from another CA
        # when foreign_ca is set.
        self.ca_pem = make_ca(tmp_path)[0]
        _, self.cert, self.key = make_ca(os.path.join(str(tmp_path), "foreign-ca") if foreign_ca else tmp_path)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._messages = []
        self._raw = []
        self._envelopes = []
        self._auth_attempts = []
        self._protocols = set()
        self._controller = None

    # --- what gatehouse needs ------------------------------------------------------------------
    def env(self, scheme=None, user=None, password=None):
        scheme = scheme or ("smtps" if self.implicit_tls else "smtp")
        user = self.user if user is None else user
        password = self.password if password is None else password
        return {"SMTP_URL": f"{scheme}://{user}:{password}@127.0.0.1:{self.port}",
                "SMTP_CA_FILE": self.ca_pem,
                "SMTP_FROM": SMTP_FROM}

    # --- life ------------------------------------------------------------------------------------
    def _server_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == self.user.encode() and auth_data.password == self.password.encode())
        login = auth_data.login.decode(errors="replace") if isinstance(auth_data, LoginPassword) else None
        with self._lock:
            self._auth_attempts.append(AuthAttempt(mechanism, login, ok, _encrypted(server)))
        return AuthResult(success=ok, handled=False, auth_data=login)

    def _received(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        message = email.message_from_bytes(content, policy=email.policy.default)
        with self._arrived:
            self._raw.append(content)
            self._messages.append(message)
            self._envelopes.append(Envelope(envelope.mail_from, list(envelope.rcpt_tos), _encrypted(server),
                                            session.auth_data if session.authenticated else None))
            self._arrived.notify_all()

    def start(self):
        assert self._controller is None, "already running"
        smtp_kwargs = dict(
            server_hostname="sink.gatehouse.test",  # no getfqdn(): it may wait on DNS
            ready_timeout=10,
            enable_SMTPUTF8=True,
            authenticator=self._authenticate,
            auth_required=self.require_auth,
            # With STARTTLS, AUTH only after it. Without any TLS, AUTH is still offered (in
            # clear): a client that should have insisted on STARTTLS is then caught sending its
            # password (auth_attempts). With implicit TLS the whole connection is encrypted.
            auth_require_tls=self.starttls and not self.implicit_tls,
        )
        if self.implicit_tls:
            smtp_kwargs["ssl_context"] = self._server_context()
        elif self.starttls:
            smtp_kwargs.update(tls_context=self._server_context(), require_starttls=True)
        self._controller = _Controller(self, _Handler(self), hostname="127.0.0.1", port=self.port,
                                       **smtp_kwargs)
        self._controller.start()
        return self

    def stop(self):
        """Stops listening and cuts every open connection; the port is free again at return."""
        c = self._controller
        if c is None:
            return
        self._controller = None
        done = threading.Event()

        def cut():
            try:
                with self._lock:
                    protocols = list(self._protocols)
                for p in protocols:
                    for t in (p.transport, getattr(p, "_original_transport", None)):
                        if t is not None:
                            try:
                                t.abort()
                            except Exception:  # an SSL transport already closing
                                pass
            finally:
                done.set()

        try:
            c.loop.call_soon_threadsafe(cut)
            done.wait(5)
        except RuntimeError:  # the loop already ended
            pass
        c.stop(no_assert=True)
        # The listening socket is closed by the controller's thread before it ends; make sure.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", self.port))
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"the SMTP sink still holds port {self.port}")

    @property
    def running(self):
        return self._controller is not None

    # --- what arrived -----------------------------------------------------------------------------
    @property
    def messages(self):
        with self._lock:
            return list(self._messages)

    @property
    def raw(self):
        with self._lock:
            return list(self._raw)

    @property
    def envelopes(self):
        with self._lock:
            return list(self._envelopes)

    @property
    def auth_attempts(self):
        with self._lock:
            return list(self._auth_attempts)

    def wait_for(self, count, timeout=20.0):
        """The messages once at least `count` have arrived; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [(m["To"], m["Subject"]) for m in self._messages]
                    raise AssertionError(f"{len(got)} of {count} message(s) after {timeout} s: {got}")
                self._arrived.wait(left)
            return list(self._messages)

    def clear(self):
        with self._lock:
            self._messages.clear()
            self._raw.clear()
            self._envelopes.clear()
            self._auth_attempts.clear()


def smoke_test(directory):
    """The sink alone, driven by Python's smtplib: STARTTLS verified against the CA, AUTH PLAIN and
    LOGIN, a multipart message captured and parsed, refusals without TLS or with a wrong password,
    stop() cutting connections and freeing the port, start() again on the same port."""
    import smtplib
    from email.message import EmailMessage

    def message(to):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = SMTP_FROM, to, "héllo"
        msg.set_content("plain ✓")
        msg.add_alternative("<p>html ✓</p>", subtype="html")
        return msg

    def tls(sink):
        return ssl.create_default_context(cafile=sink.ca_pem)

    sink = SmtpSink(directory).start()
    try:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as c:
            c.ehlo()
            assert c.has_extn("starttls") and not c.has_extn("auth"), c.esmtp_features  # AUTH only after TLS
            c.starttls(context=tls(sink))
            c.ehlo()
            c.login(SMTP_USER, SMTP_PASSWORD)  # smtplib picks PLAIN
            c.send_message(message("a@example.com"))
        m = sink.wait_for(1, 5)[0]
        assert (m["To"], m["Subject"]) == ("a@example.com", "héllo"), (m["To"], m["Subject"])
        assert m.get_content_type() == "multipart/alternative"
        assert m.get_body(("plain",)).get_content().strip() == "plain ✓"
        assert m.get_body(("html",)).get_content().strip() == "<p>html ✓</p>"
        assert sink.envelopes == [Envelope("noreply@gatehouse.test", ["a@example.com"], True, SMTP_USER)]
        assert sink.auth_attempts == [AuthAttempt("PLAIN", SMTP_USER, True, True)], sink.auth_attempts

        with smtplib.SMTP("localhost", sink.port, timeout=10) as c:  # the DNS name is in the certificate too
            c.starttls(context=tls(sink))
            c.ehlo()
            c.user, c.password = SMTP_USER, SMTP_PASSWORD
            c.auth("LOGIN", c.auth_login)
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as c:
            try:
                c.send_message(message("plain@example.com"))
                raise AssertionError("accepted a message without STARTTLS")
            except smtplib.SMTPSenderRefused as e:
                assert e.smtp_code == 530
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as c:
            c.starttls(context=tls(sink))
            try:
                c.login(SMTP_USER, "wrong")
                raise AssertionError("accepted a wrong password")
            except smtplib.SMTPAuthenticationError as e:
                assert e.smtp_code == 535
            try:
                c.send_message(message("noauth@example.com"))
                raise AssertionError("accepted a message without AUTH")
            except smtplib.SMTPSenderRefused as e:
                assert e.smtp_code == 530

        held = smtplib.SMTP("127.0.0.1", sink.port, timeout=5)
        held.ehlo()
        sink.stop()
        try:
            held.noop()
            raise AssertionError("a connection survived stop()")
        except (smtplib.SMTPServerDisconnected, OSError):
            pass
        try:
            smtplib.SMTP("127.0.0.1", sink.port, timeout=2)
            raise AssertionError("still listening after stop()")
        except OSError:
            pass
        sink.start()
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as c:
            c.starttls(context=tls(sink))
            c.login(SMTP_USER, SMTP_PASSWORD)
            c.send_message(message("b@example.com"))
        assert [x["To"] for x in sink.wait_for(2, 5)] == ["a@example.com", "b@example.com"]
    finally:
        sink.stop()

    foreign = SmtpSink(directory, foreign_ca=True).start()
    try:
        with smtplib.SMTP("127.0.0.1", foreign.port, timeout=10) as c:
            try:
                c.starttls(context=tls(foreign))
                raise AssertionError("a certificate from a foreign CA was trusted")
            except ssl.SSLCertVerificationError:
                pass
    finally:
        foreign.stop()

    plain = SmtpSink(directory, starttls=False).start()
    try:
        with smtplib.SMTP("127.0.0.1", plain.port, timeout=10) as c:
            c.ehlo()
            assert not c.has_extn("starttls")
            c.login(SMTP_USER, SMTP_PASSWORD)
            c.send_message(message("p@example.com"))
        assert plain.envelopes[0].tls is False and plain.auth_attempts[0].tls is False
    finally:
        plain.stop()

    implicit = SmtpSink(directory, implicit_tls=True).start()
    try:
        assert implicit.env()["SMTP_URL"].startswith("smtps://mailer:s3cret-smtp@127.0.0.1:")
        with smtplib.SMTP_SSL("127.0.0.1", implicit.port, timeout=10, context=tls(implicit)) as c:
            c.login(SMTP_USER, SMTP_PASSWORD)
            c.send_message(message("i@example.com"))
        assert implicit.envelopes[0].tls is True and implicit.wait_for(1, 5)[0]["To"] == "i@example.com"
    finally:
        implicit.stop()


if __name__ == "__main__":  # /usr/bin/python3 tests/integration/smtp_sink.py
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        smoke_test(d)
    print("smtp sink ok")
