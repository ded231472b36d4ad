"""Email: password reset, email verification and email change, end to end over real SMTP.

Gatehouse sends through a real SMTP server on loopback (smtp_sink.py: aiosmtpd with STARTTLS and
AUTH required, a throw-away CA from the openssl command line); the tests read what arrives with
Python's email package, take the link out of the message and use it the way a person does
(the page without the URL fragment, then its form with the token from the fragment) or the way
an application does (the JSON API). Mail is sent in the background from an outbox, so every test
waits for messages with a deadline and never for longer than it needs."""
import concurrent.futures
import email
import email.policy
import email.utils
import html
import html.parser
import json
import mailbox
import os
import re
import secrets
import socket
import sqlite3
import statistics
import subprocess
import threading
import time
import types
import urllib.parse

import jwt
import pytest
import requests

from conftest import BIN, PG_URL, Redis, Server, auth, body_of, free_port, fresh_database, \
    interleaved_timings
from smtp_sink import SMTP_FROM, SMTP_PASSWORD, SMTP_USER, SmtpSink, make_ca, smoke_test

PASSWORD = "Passw0rd!x"  # Server.register's default
NEW_PASSWORD = "N3w-Passw0rd!x"
FORGOT_BODY = {"message": "If that account exists, we have sent instructions"}
RESET_BODY = {"message": "Password has been reset"}
VERIFY_SENT_BODY = {"message": "Verification email sent"}
CHANGE_SENT_BODY = {"message": "Confirmation sent to the new address"}
INVALID_TOKEN = (400, {"detail": "Invalid or expired token"})
NOT_CONFIGURED = (503, {"detail": "Email delivery is not configured"})
TOO_MANY = (429, {"detail": "Too many requests"})
WRONG_PASSWORD = (401, {"detail": "Incorrect email or password"})
TOKEN_PAIR_KEYS = {"access_token", "refresh_token", "token_type", "expires_in"}
USER_KEYS = {"id", "email", "username", "role", "is_active", "created_at", "email_verified"}
# Tests other than the rate-limit ones must not meet the email limits.
NO_LIMITS = {"EMAIL_RATE_LIMIT": "100000/minute", "EMAIL_IP_RATE_LIMIT": "100000/minute",
             "EMAIL_TOKEN_RATE_LIMIT": "100000/minute"}
# Retries and the outbox poll as fast as the settings allow, for the tests about delivery.
FAST_RETRIES = {"MAIL_RETRY_BASE_SECONDS": "1", "MAIL_POLL_SECONDS": "1"}
MAIL_WAIT = 20  # seconds a message may take to arrive (an ASan build on a busy machine)
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{22,}")
LINK_RE = re.compile(r"https?://[^\s\"'<>]+#token=[^\s\"'<>]*")


# --- fixtures --------------------------------------------------------------------------------------

@pytest.fixture
def make_sink(tmp_path):
    """SMTP sinks (smtp_sink.SmtpSink) stopped after the test."""
    made = []

    def make(start=True, **kwargs):
        sink = SmtpSink(tmp_path, **kwargs)
        made.append(sink)
        return sink.start() if start else sink

    yield make
    for sink in made:
        sink.stop()


@pytest.fixture
def smtp_sink(make_sink):
    """One SMTP server requiring STARTTLS and AUTH (mailer / s3cret-smtp)."""
    return make_sink()


def mail_server(make_server, sink=None, env=None):
    """A gatehouse node sending through `sink` (None: no mail transport), its public URL its own
    base URL, the email limits out of the way; `env` adds or overrides (None removes)."""
    s = make_server(start=False)
    s.env.update(NO_LIMITS, GATEHOUSE_PUBLIC_URL=s.base)
    if sink is not None:
        s.env.update(sink.env())
    for key, value in (env or {}).items():
        if value is None:
            s.env.pop(key, None)
        else:
            s.env[key] = value
    return s.start()


# --- helpers: the API ------------------------------------------------------------------------------

def api(s, path):
    return s.url("/api/v1" + path)


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def new_user(s, name, email=None, password=PASSWORD):
    email = email or f"{name}@example.com"
    r = s.register(email, name, password)
    assert r.status_code == 201, r.text
    return email


def login_pair(s, username, password=PASSWORD):
    r = s.login(username, password)
    assert r.status_code == 200, r.text
    assert set(r.json()) == TOKEN_PAIR_KEYS
    return r.json()


def me(s, token):
    r = requests.get(api(s, "/auth/me"), headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


def create_key(s, token):
    r = requests.post(api(s, "/api-keys"), json={"name": "mail-test"}, headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()["key"]


def forgot(s, address, headers=None):
    return requests.post(api(s, "/auth/password/forgot"), json={"email": address}, headers=headers or {})


def reset(s, token, new_password=NEW_PASSWORD, headers=None):
    return requests.post(api(s, "/auth/password/reset"), json={"token": token, "new_password": new_password},
                         headers=headers or {})


def request_verification(s, headers):
    return requests.post(api(s, "/auth/email/verify/request"), headers=headers)


def verify_email(s, token, headers=None):
    return requests.post(api(s, "/auth/email/verify"), json={"token": token}, headers=headers or {})


def change_email(s, headers, new_email):
    return requests.post(api(s, "/auth/email/change"), json={"new_email": new_email}, headers=headers)


def confirm_change(s, token, headers=None):
    return requests.post(api(s, "/auth/email/change/confirm"), json={"token": token}, headers=headers or {})


def assert_accepted(r, body):
    assert (r.status_code, body_of(r)) == (202, body), (r.status_code, body_of(r))


def assert_user(r, email, verified):
    assert r.status_code == 200, (r.status_code, body_of(r))
    user = r.json()
    assert USER_KEYS <= set(user), user
    assert (user["email"], user["email_verified"]) == (email, verified), user
    return user


def assert_too_many(r):
    assert (r.status_code, body_of(r)) == TOO_MANY, (r.status_code, body_of(r))
    assert int(r.headers["Retry-After"]) > 0, r.headers


def audit(s, admin, **params):
    r = requests.get(api(s, "/audit-events"), params={"limit": 1000, **params}, headers=auth(admin))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def wait_audit(s, admin, event_type, count=1, timeout=MAIL_WAIT):
    deadline = time.monotonic() + timeout
    while True:
        events = audit(s, admin, type=event_type)
        if len(events) >= count:
            return events
        assert time.monotonic() < deadline, f"{len(events)} {event_type} event(s) after {timeout} s"
        time.sleep(0.1)


def metrics(s):
    """The samples of /metrics: {(name, frozenset of label pairs): value}."""
    text = requests.get(s.url("/metrics")).text
    samples = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)", line)
        if m and not line.startswith("#"):
            labels = frozenset(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def metric(s, name, **labels):
    """The value of one sample (0 when the server has not exported it yet)."""
    return metrics(s).get((name, frozenset(labels.items())), 0.0)


def mail_metric(s, event):
    return metric(s, "gatehouse_mail_messages_total", event=event)


def wait_metric(s, name, at_least, timeout=MAIL_WAIT, **labels):
    deadline = time.monotonic() + timeout
    while True:
        value = metric(s, name, **labels)
        if value >= at_least:
            return value
        assert time.monotonic() < deadline, f"{name}{labels} is {value} after {timeout} s, expected >= {at_least}"
        time.sleep(0.05)


# --- helpers: mail ---------------------------------------------------------------------------------

def recipients(msg):
    return [a.addr_spec.lower() for a in msg["To"].addresses] if msg["To"] is not None else []


def mails_to(sink, address):
    return [m for m in sink.messages if address.lower() in recipients(m)]


def wait_mail(sink, address, count=1, timeout=MAIL_WAIT):
    """The messages to `address` once at least `count` have arrived."""
    deadline = time.monotonic() + timeout
    while True:
        found = mails_to(sink, address)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            seen = [(recipients(m), str(m["Subject"])) for m in sink.messages]
            raise AssertionError(f"{len(found)} of {count} message(s) to {address} after {timeout} s; "
                                 f"the sink has {seen}")
        time.sleep(0.05)


def text_part(msg):
    return msg.get_body(("plain",)).get_content()


def html_part(msg):
    return msg.get_body(("html",)).get_content()


def links_in(msg):
    """The token links of the text part and of the HTML part (entities decoded)."""
    return LINK_RE.findall(text_part(msg)), LINK_RE.findall(html.unescape(html_part(msg)))


def link_in(msg, base):
    """The one token link of a message: the same in the text and the HTML part, starting with
    `base` + "#token="; (link, token)."""
    in_text, in_html = links_in(msg)
    assert len(set(in_text)) == 1, f"text part: {in_text!r}\n{text_part(msg)}"
    assert set(in_html) == set(in_text), (in_text, in_html)
    link = in_text[0]
    assert link.startswith(base + "#token="), (link, base)
    token = link.split("#token=", 1)[1]
    assert TOKEN_RE.fullmatch(token), token
    return link, token


def assert_mail_shape(msg, to, sent_after):
    """Headers From (= SMTP_FROM), To, Subject, Date, Message-ID, MIME-Version, and
    multipart/alternative with a UTF-8 text/plain and text/html part."""
    sender = msg["From"].addresses
    assert [(a.display_name, a.addr_spec) for a in sender] == [("Gatehouse", "noreply@gatehouse.test")], msg["From"]
    assert recipients(msg) == [to.lower()], msg["To"]
    assert str(msg["Subject"]).strip(), "no Subject"
    date = email.utils.parsedate_to_datetime(str(msg["Date"]))
    assert date.tzinfo is not None and sent_after - 120 <= date.timestamp() <= time.time() + 120, msg["Date"]
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(msg["Message-ID"]).strip()), msg["Message-ID"]
    assert str(msg["MIME-Version"]).strip() == "1.0", msg["MIME-Version"]
    assert msg.get_content_type() == "multipart/alternative", msg.get_content_type()
    parts = list(msg.iter_parts())
    assert sorted(p.get_content_type() for p in parts) == ["text/html", "text/plain"], [p.get_content_type() for p in parts]
    for p in parts:
        assert p.get_content_charset() == "utf-8", (p.get_content_type(), p.get_content_charset())


# --- helpers: pages --------------------------------------------------------------------------------

class _Forms(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []
        self._form = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "button":
            a.setdefault("type", "submit")
        if tag == "form":
            self._form = {"attrs": a, "inputs": []}
            self.forms.append(self._form)
        elif tag in ("input", "textarea", "button") and self._form is not None and a.get("name"):
            self._form["inputs"].append(a)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def token_form(page_html):
    """The page's POST form that carries a `token` input."""
    parser = _Forms()
    parser.feed(page_html)
    forms = [f for f in parser.forms if f["attrs"].get("method", "get").lower() == "post"
             and any(i["name"] == "token" for i in f["inputs"])]
    assert len(forms) == 1, f"expected one POST form with a token input: {parser.forms}"
    return forms[0]


def open_page(browser, url, path):
    """GET a page as a browser does (never the fragment): 200 HTML with the token form, whose
    action is the same path; (form, absolute action URL)."""
    assert "#" not in url
    r = browser.get(url)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.headers.get("Content-Type", "").startswith("text/html"), r.headers.get("Content-Type")
    form = token_form(r.text)
    action = urllib.parse.urljoin(url, form["attrs"].get("action", ""))
    assert urllib.parse.urlsplit(action).path == path, (form["attrs"], path)
    return form, action


def follow_link(s, link, path, **fields):
    """A person following a link from a mail: the browser asks for the page without the fragment,
    the page's script (or the person) puts the token into the form, the form is posted with its
    other fields (a CSRF field included, if any) from the same browser."""
    url, _, fragment = link.partition("#")
    token = urllib.parse.parse_qs(fragment)["token"][0]
    browser = requests.Session()
    form, action = open_page(browser, url, path)
    data = {i["name"]: i.get("value", "") for i in form["inputs"]
            if i.get("type", "text").lower() not in ("submit", "button")}
    data.update(token=token, **fields)
    return browser.post(action, data=data, headers={"Origin": s.base})


def assert_html(r, status):
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers.get("Content-Type", "").startswith("text/html"), r.headers.get("Content-Type")


# --- the sink itself -------------------------------------------------------------------------------

def test_the_smtp_sink_works_with_a_standard_client(tmp_path):
    """The fixture the other tests rely on, checked with Python's smtplib: STARTTLS verified
    against the throw-away CA, AUTH, messages captured and parsed, refusals without TLS or with a
    wrong password, a foreign CA refused by a verifying client, and stop() then start() on the
    same port."""
    smoke_test(tmp_path)


# --- password reset --------------------------------------------------------------------------------

def test_password_reset_mail_over_smtp_followed_like_a_person(make_server, smtp_sink):
    """The whole flow through STARTTLS + AUTH: the mail's headers and both parts carry the same
    link to <public>/ui/reset-password#token=...; the page (asked for without the fragment) shows
    a form, its POST with the token sets the password; every old session ends; the link works
    once."""
    s = mail_server(make_server, smtp_sink)
    address = new_user(s, "alice")
    old = login_pair(s, "alice")
    before = time.time()
    r = forgot(s, address)
    assert_accepted(r, FORGOT_BODY)
    msg = wait_mail(smtp_sink, address)[0]
    assert_mail_shape(msg, address, before)
    assert "password" in str(msg["Subject"]).lower(), msg["Subject"]
    link, token = link_in(msg, s.base + "/ui/reset-password")
    envelope = smtp_sink.envelopes[smtp_sink.messages.index(msg)]
    assert envelope.mail_from == "noreply@gatehouse.test" and envelope.rcpt_tos == [address], envelope
    assert envelope.tls and envelope.login == SMTP_USER, envelope  # delivered over TLS, authenticated

    r = follow_link(s, link, "/ui/reset-password", new_password=NEW_PASSWORD)
    assert_html(r, 200)
    assert requests.get(api(s, "/auth/me"), headers=auth(old["access_token"])).status_code == 401
    r = requests.post(api(s, "/auth/refresh"), json={"refresh_token": old["refresh_token"]})
    assert r.status_code == 401, r.text
    assert s.login("alice", PASSWORD).status_code == 401
    fresh = login_pair(s, "alice@example.com", NEW_PASSWORD)
    assert me(s, fresh["access_token"])["email_verified"] is True  # the mail proved the address
    # The page's reset tells the address, as the API's does.
    told = wait_mail(smtp_sink, address, count=2)
    assert [("password was changed" in str(m["Subject"]).lower()) for m in told] == [False, True], \
        [str(m["Subject"]) for m in told]

    # Single use, whichever way it comes back.
    assert_html(follow_link(s, link, "/ui/reset-password", new_password="An0ther-Passw0rd!"), 400)
    r = reset(s, token, "An0ther-Passw0rd!")
    assert (r.status_code, body_of(r)) == INVALID_TOKEN
    assert s.login("alice", "An0ther-Passw0rd!").status_code == 401
    # A made-up token on the page is a 400 page too.
    assert_html(follow_link(s, s.base + "/ui/reset-password#token=" + "A" * 43, "/ui/reset-password",
                            new_password="An0ther-Passw0rd!"), 400)


def test_password_reset_through_the_api_ends_sessions_revokes_keys_and_clears_the_lockout(make_server, smtp_sink):
    """POST /auth/password/reset: a password failing the policy is a 422 on new_password and does
    not spend the token; the reset ends every session (access and refresh tokens), revokes API
    keys, clears the account's login lockout and marks the email verified; a second use, or a
    made-up token, is 400 Invalid or expired token."""
    s = mail_server(make_server, smtp_sink, {"LOGIN_LOCKOUT_THRESHOLD": "3", "LOGIN_DELAY_AFTER_FAILURES": "0"})
    address = new_user(s, "bob")
    first, second = login_pair(s, "bob"), login_pair(s, address)
    key = create_key(s, first["access_token"])
    assert requests.get(api(s, "/auth/me"), headers={"X-API-Key": key}).status_code == 200
    assert me(s, first["access_token"])["email_verified"] is False
    for i in range(3):  # someone guesses bob's password until the account is locked
        assert s.login(address, f"Guess-{i}-passw0rd").status_code == 401
    r = s.login(address, PASSWORD)
    assert (r.status_code, body_of(r)) == WRONG_PASSWORD  # locked: even the right password

    assert_accepted(forgot(s, address), FORGOT_BODY)
    _, token = link_in(wait_mail(smtp_sink, address)[0], s.base + "/ui/reset-password")
    r = reset(s, token, "short")
    assert r.status_code == 422, r.text
    assert any(e["loc"] == ["body", "new_password"] for e in r.json()["detail"]), r.json()
    r = reset(s, token, NEW_PASSWORD)  # the 422 did not spend it
    assert (r.status_code, body_of(r)) == (200, RESET_BODY)

    for pair in (first, second):
        assert requests.get(api(s, "/auth/me"), headers=auth(pair["access_token"])).status_code == 401
        assert requests.post(api(s, "/auth/refresh"), json={"refresh_token": pair["refresh_token"]}).status_code == 401
    assert requests.get(api(s, "/auth/me"), headers={"X-API-Key": key}).status_code == 401
    r = s.login(address, PASSWORD)
    assert (r.status_code, body_of(r)) == WRONG_PASSWORD
    fresh = login_pair(s, address, NEW_PASSWORD)  # the lockout is gone
    assert me(s, fresh["access_token"])["email_verified"] is True
    assert claims(fresh["access_token"])["email_verified"] is True

    r = reset(s, token, "An0ther-Passw0rd!")
    assert (r.status_code, body_of(r)) == INVALID_TOKEN
    r = reset(s, "A" * 43, "An0ther-Passw0rd!")
    assert (r.status_code, body_of(r)) == INVALID_TOKEN


def test_opening_the_links_spends_nothing_only_the_form_post_does(make_server, smtp_sink):
    """Mail scanners and link previews open every URL, with and without the token moved into the
    query: GET and HEAD of the pages, many times, change nothing; the token still works after."""
    s = mail_server(make_server, smtp_sink)
    address = new_user(s, "carol")
    access = login_pair(s, "carol")["access_token"]
    assert_accepted(forgot(s, address), FORGOT_BODY)
    assert_accepted(request_verification(s, auth(access)), VERIFY_SENT_BODY)
    messages = wait_mail(smtp_sink, address, 2)
    reset_link = verify_link = None
    for msg in messages:
        in_text, _ = links_in(msg)
        if "/ui/reset-password#" in in_text[0]:
            reset_link, reset_token = link_in(msg, s.base + "/ui/reset-password")
        else:
            verify_link, verify_token = link_in(msg, s.base + "/ui/verify-email")
    assert reset_link and verify_link, [links_in(m) for m in messages]

    for link, token, path in ((reset_link, reset_token, "/ui/reset-password"),
                              (verify_link, verify_token, "/ui/verify-email")):
        page = link.split("#")[0]
        q = urllib.parse.quote(token)
        for url in (page, f"{page}?token={q}", f"{page}?token={q}&new_password=Hijack3d-Passw0rd!",
                    f"{page}?{urllib.parse.urlencode({'token': token, 'utm_source': 'scanner'})}"):
            for _ in range(3):
                r = requests.get(url)
                assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), (url, r.status_code)
                assert requests.head(url).status_code < 500
        # The page offers the form (empty: the script fills it from the fragment).
        form, _ = open_page(requests.Session(), page, path)
        names = {i["name"] for i in form["inputs"]}
        assert "token" in names, names
        if path == "/ui/reset-password":
            assert any(i["name"] == "new_password" and i.get("type") == "password" for i in form["inputs"]), form

    # Nothing happened: same password, still unverified; then the tokens work once.
    assert s.login("carol", "Hijack3d-Passw0rd!").status_code == 401
    assert me(s, login_pair(s, "carol")["access_token"])["email_verified"] is False
    assert_user(verify_email(s, verify_token), address, True)
    assert reset(s, reset_token).status_code == 200
    login_pair(s, "carol", NEW_PASSWORD)


def test_the_pages_offer_their_forms(make_server, smtp_sink):
    """Each page answers 200 HTML with a POST form to itself holding a token input; the reset page
    also a new_password input; a made-up token posted to it is a 400 page."""
    s = mail_server(make_server, smtp_sink)
    for path in ("/ui/reset-password", "/ui/verify-email", "/ui/confirm-email"):
        form, _ = open_page(requests.Session(), s.url(path), path)
        names = {i["name"] for i in form["inputs"]}
        assert "token" in names, (path, names)
        assert ("new_password" in names) == (path == "/ui/reset-password"), (path, names)
        # A made-up token posted to the page is a 400 page; nothing else happens.
        extra = {"new_password": NEW_PASSWORD} if path == "/ui/reset-password" else {}
        assert_html(follow_link(s, s.url(path) + "#token=" + "B" * 43, path, **extra), 400)


def test_expired_links_are_refused(make_server, smtp_sink):
    """PASSWORD_RESET_TTL_SECONDS, EMAIL_VERIFICATION_TTL_SECONDS and EMAIL_CHANGE_TTL_SECONDS:
    a token used after its lifetime is 400 Invalid or expired token and changes nothing."""
    s = mail_server(make_server, smtp_sink, {"PASSWORD_RESET_TTL_SECONDS": "2",
                                             "EMAIL_VERIFICATION_TTL_SECONDS": "2",
                                             "EMAIL_CHANGE_TTL_SECONDS": "2"})
    address = new_user(s, "dave")
    access = login_pair(s, "dave")["access_token"]
    assert_accepted(forgot(s, address), FORGOT_BODY)
    assert_accepted(request_verification(s, auth(access)), VERIFY_SENT_BODY)
    assert_accepted(change_email(s, auth(access), "dave.new@example.com"), CHANGE_SENT_BODY)
    to_dave = wait_mail(smtp_sink, address, 3)  # reset, verification, notice of the change
    to_new = wait_mail(smtp_sink, "dave.new@example.com")
    issued_by = time.time()  # every token was made before its mail arrived
    tokens = {}
    for msg in to_dave + to_new:
        for link in links_in(msg)[0]:
            tokens[urllib.parse.urlsplit(link).path] = link.split("#token=", 1)[1]
    assert set(tokens) == {"/ui/reset-password", "/ui/verify-email", "/ui/confirm-email"}, tokens
    time.sleep(max(0.0, issued_by + 3.0 - time.time()))

    r = reset(s, tokens["/ui/reset-password"])
    assert (r.status_code, body_of(r)) == INVALID_TOKEN
    r = verify_email(s, tokens["/ui/verify-email"])
    assert (r.status_code, body_of(r)) == INVALID_TOKEN
    r = confirm_change(s, tokens["/ui/confirm-email"])
    assert (r.status_code, body_of(r)) == INVALID_TOKEN
    user = me(s, login_pair(s, address)["access_token"])  # old password, old address
    assert (user["email"], user["email_verified"]) == (address, False), user


@pytest.mark.timing
def test_forgot_password_tells_nothing_about_the_account(make_server, smtp_sink):
    """For a known, an unknown and a deactivated address the answer is the same: status, body
    bytes, header names and time (medians within a factor of two, plus 5 ms of noise); only the
    known, active account gets mail. The known address goes last in each round and its mail is
    awaited, untimed, before the next round, so its delivery never overlaps a timed request."""
    s = mail_server(make_server, smtp_sink)
    admin = s.admin_token()
    known = new_user(s, "erin")
    inactive = new_user(s, "frank")
    uid = me(s, login_pair(s, "frank")["access_token"])["id"]
    r = requests.patch(api(s, f"/users/{uid}"), json={"is_active": False}, headers=auth(admin))
    assert r.status_code == 200, r.text
    addresses = {"unknown": "nobody-here@example.com", "inactive": inactive, "known": known}
    for a in addresses.values():  # warm up each path once (connections, caches)
        assert_accepted(forgot(s, a), FORGOT_BODY)
    wait_metric(s, "gatehouse_mail_messages_total", 1, event="sent")
    # Eight rounds; after round i the known address has had i + 2 messages (the warm-up's first).
    runs = interleaved_timings({kind: (lambda i, a=a: forgot(s, a)) for kind, a in addresses.items()},
                               rounds=8, after_round=lambda i: wait_metric(
                                   s, "gatehouse_mail_messages_total", i + 2, event="sent"))
    for kind, rs in runs.items():
        for _, r in rs:
            assert (r.status_code, r.json()) == (202, FORGOT_BODY), (kind, r.status_code, r.text)
    contents = {kind: {r.content for _, r in rs} for kind, rs in runs.items()}
    assert contents["known"] == contents["unknown"] == contents["inactive"] and len(contents["known"]) == 1, contents
    names = {kind: {tuple(sorted(k.lower() for k in r.headers)) for _, r in rs} for kind, rs in runs.items()}
    assert names["known"] == names["unknown"] == names["inactive"], names
    medians = {kind: statistics.median(t for t, _ in rs) for kind, rs in runs.items()}
    fastest = min(medians.values())
    for kind, m in medians.items():
        assert m <= 2 * fastest + 0.005, medians

    wait_mail(smtp_sink, known, 9)
    wait_metric(s, "gatehouse_mail_messages_total", 9, event="sent")
    # A straggler to another address: forgot's work waits up to 1.5 s after the answer.
    time.sleep(2.0)
    assert {tuple(recipients(m)) for m in smtp_sink.messages} == {(known,)}
    assert mail_metric(s, "queued") == 9
    assert len({str(m["Message-ID"]) for m in smtp_sink.messages}) == 9  # each message its own id


@pytest.mark.timing
def test_forgot_password_work_does_not_show_on_the_next_request(make_server, smtp_sink):
    """Found by an outside attack: the lookup, token and mail for a known address ran while the
    response was written, so the forgot request and a cheap request sent right after it on the
    same connection took 5-16 ms for a known address and 2.4-2.6 ms for an unknown one (10 of 10
    told apart). That work waits 0.2-1.5 s now, at random, at low priority: the pair takes the
    same time either way (medians within 1.5 times plus 2 ms)."""
    s = mail_server(make_server, smtp_sink)
    known = new_user(s, "probed")
    addresses = {"unknown": "nobody-probed@example.com", "known": known}
    session = requests.Session()
    probe = {"token": "x" * 43}

    def pair(address):
        r = session.post(api(s, "/auth/password/forgot"), json={"email": address})
        assert r.status_code == 202, r.text
        r = session.post(api(s, "/auth/email/verify"), json=probe)
        assert r.status_code == 400, r.text
        return r

    for a in addresses.values():  # warm up each path once
        pair(a)
    wait_metric(s, "gatehouse_mail_messages_total", 1, event="sent")
    runs = interleaved_timings({kind: (lambda i, a=a: pair(a)) for kind, a in addresses.items()},
                               rounds=10, after_round=lambda i: wait_metric(
                                   s, "gatehouse_mail_messages_total", i + 2, event="sent"))
    medians = {kind: statistics.median(t for t, _ in rs) for kind, rs in runs.items()}
    assert medians["known"] <= 1.5 * medians["unknown"] + 0.002, medians
    assert medians["unknown"] <= 1.5 * medians["known"] + 0.002, medians


def test_malformed_requests_are_422(make_server, smtp_sink):
    """A malformed or missing address or token is 422 in FastAPI's shape (loc names the field)
    and sends nothing."""
    s = mail_server(make_server, smtp_sink)
    new_user(s, "gus")
    access = login_pair(s, "gus")["access_token"]
    for body in ({"email": "not-an-email"}, {"email": ""}, {}, {"email": 5}):
        r = requests.post(api(s, "/auth/password/forgot"), json=body)
        assert r.status_code == 422, (body, r.text)
        assert isinstance(r.json()["detail"], list), r.json()
    r = requests.post(api(s, "/auth/password/forgot"), json={"email": "x@y"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "email"], r.text
    r = change_email(s, auth(access), "not-an-email")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "new_email"], r.text
    for path in ("/auth/password/reset", "/auth/email/verify", "/auth/email/change/confirm"):
        assert requests.post(api(s, path), json={}).status_code == 422, path
    time.sleep(0.5)
    assert smtp_sink.messages == []


# --- links are built from configuration only -------------------------------------------------------

@pytest.mark.parametrize("trusted_proxy", [False, True], ids=["direct", "behind-trusted-proxy"])
def test_links_never_come_from_host_headers(make_server, smtp_sink, trusted_proxy):
    """Host and X-Forwarded-Host (believed or not: TRUSTED_PROXIES) set to an attacker's name never
    change a link: every link starts with GATEHOUSE_PUBLIC_URL and the name appears nowhere."""
    s = mail_server(make_server, smtp_sink, {"TRUSTED_PROXIES": "127.0.0.1"} if trusted_proxy else {})
    address = new_user(s, "gina")
    access = login_pair(s, "gina")["access_token"]
    evil = [{"Host": "evil.example"},
            {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
            {"Host": "evil.example:8443", "X-Forwarded-Host": "evil.example", "Forwarded": "host=evil.example;proto=https"}]
    for headers in evil:
        assert_accepted(forgot(s, address, headers), FORGOT_BODY)
    assert_accepted(request_verification(s, {**auth(access), **evil[1]}), VERIFY_SENT_BODY)
    assert_accepted(change_email(s, {**auth(access), **evil[2]}, "gina.new@example.com"), CHANGE_SENT_BODY)
    messages = wait_mail(smtp_sink, address, 5) + wait_mail(smtp_sink, "gina.new@example.com")
    paths = []
    for msg in messages:
        whole = msg.as_string()
        assert "evil.example" not in whole, whole
        in_text, in_html = links_in(msg)
        for link in in_text + in_html:
            assert link.startswith(s.base + "/ui/"), link
            paths.append(urllib.parse.urlsplit(link).path)
    assert sorted(set(paths)) == ["/ui/confirm-email", "/ui/reset-password", "/ui/verify-email"], paths


def test_password_reset_url_replaces_the_links_base(make_server, smtp_sink):
    """PASSWORD_RESET_URL: the reset link is <PASSWORD_RESET_URL>#token=...; the token works at the
    API; other links keep GATEHOUSE_PUBLIC_URL."""
    s = mail_server(make_server, smtp_sink, {"PASSWORD_RESET_URL": "https://app.example.com/account/reset"})
    address = new_user(s, "hank")
    access = login_pair(s, "hank")["access_token"]
    assert_accepted(request_verification(s, auth(access)), VERIFY_SENT_BODY)
    link_in(wait_mail(smtp_sink, address)[0], s.base + "/ui/verify-email")
    assert_accepted(forgot(s, address), FORGOT_BODY)
    msg = next(m for m in wait_mail(smtp_sink, address, 2) if "/ui/verify-email" not in text_part(m))
    _, token = link_in(msg, "https://app.example.com/account/reset")
    assert reset(s, token).status_code == 200
    login_pair(s, "hank", NEW_PASSWORD)


# --- rate limits -----------------------------------------------------------------------------------

def test_mail_requests_are_limited_per_address_known_or_not(make_server, smtp_sink):
    """EMAIL_RATE_LIMIT=2/hour: the third forgot for one address is 429, for a known and an unknown
    address alike (and the 429 sends nothing); verification requests and email changes count per
    account; another address is not affected."""
    s = mail_server(make_server, smtp_sink, {"EMAIL_RATE_LIMIT": "2/hour"})
    known = new_user(s, "ivan")
    for a in (known, "ghost@example.com"):
        for _ in range(2):
            assert_accepted(forgot(s, a), FORGOT_BODY)
        assert_too_many(forgot(s, a))
    assert_accepted(forgot(s, "someone-else@example.com"), FORGOT_BODY)

    new_user(s, "judy")
    judy = auth(login_pair(s, "judy")["access_token"])
    for _ in range(2):
        assert_accepted(request_verification(s, judy), VERIFY_SENT_BODY)
    assert_too_many(request_verification(s, judy))
    new_user(s, "kim")
    kim = auth(login_pair(s, "kim")["access_token"])
    for i in range(2):
        assert_accepted(change_email(s, kim, f"kim.{i}@example.com"), CHANGE_SENT_BODY)
    assert_too_many(change_email(s, kim, "kim.2@example.com"))

    wait_mail(smtp_sink, known, 2)
    wait_mail(smtp_sink, "judy@example.com", 2)
    wait_mail(smtp_sink, "kim.1@example.com")
    time.sleep(1.0)
    assert len(mails_to(smtp_sink, known)) == 2
    assert len(mails_to(smtp_sink, "judy@example.com")) == 2
    assert mails_to(smtp_sink, "kim.2@example.com") == []


def test_forgot_is_limited_per_client_address(make_server, smtp_sink):
    """EMAIL_IP_RATE_LIMIT=3/hour: one client asking for three different addresses is then refused
    for a fourth; another client (behind the trusted proxy) is not."""
    s = mail_server(make_server, smtp_sink, {"EMAIL_IP_RATE_LIMIT": "3/hour", "TRUSTED_PROXIES": "127.0.0.1"})
    one, two = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2"}
    for i in range(3):
        assert_accepted(forgot(s, f"addr{i}@example.com", one), FORGOT_BODY)
    assert_too_many(forgot(s, "addr3@example.com", one))
    assert_accepted(forgot(s, "addr3@example.com", two), FORGOT_BODY)


def test_guessing_tokens_meets_the_token_rate_limit(make_server, smtp_sink):
    """EMAIL_TOKEN_RATE_LIMIT=3/minute per client address: the fourth guess at any token-spending
    POST (the JSON routes and the reset page's form) is 429; another client's real token still
    works."""
    s = mail_server(make_server, smtp_sink, {"EMAIL_TOKEN_RATE_LIMIT": "3/minute", "TRUSTED_PROXIES": "127.0.0.1"})
    address = new_user(s, "liam")
    assert_accepted(forgot(s, address), FORGOT_BODY)
    _, token = link_in(wait_mail(smtp_sink, address)[0], s.base + "/ui/reset-password")
    guess = lambda i: f"guessed-token-{i:02d}-" + "x" * 20  # noqa: E731
    spenders = {"reset": lambda t, h: reset(s, t, headers=h),
                "verify": lambda t, h: verify_email(s, t, headers=h),
                "confirm": lambda t, h: confirm_change(s, t, headers=h)}
    for n, (name, spend) in enumerate(spenders.items()):
        client = {"X-Forwarded-For": f"203.0.113.{10 + n}"}
        for i in range(3):
            r = spend(guess(i), client)
            assert (r.status_code, body_of(r)) == INVALID_TOKEN, (name, i, r.status_code, body_of(r))
        assert_too_many(spend(guess(3), client))
    # The page's form spends tokens too: it counts against the same limit.
    page_client = {"X-Forwarded-For": "203.0.113.50"}
    codes = []
    for i in range(4):
        browser = requests.Session()
        browser.headers.update(page_client)
        form, action = open_page(browser, s.url("/ui/reset-password"), "/ui/reset-password")
        data = {i_["name"]: i_.get("value", "") for i_ in form["inputs"]}
        data.update(token=guess(i), new_password=NEW_PASSWORD)
        codes.append(browser.post(action, data=data, headers={"Origin": s.base}).status_code)
    assert codes == [400, 400, 400, 429], codes
    r = reset(s, token, headers={"X-Forwarded-For": "203.0.113.99"})
    assert (r.status_code, body_of(r)) == (200, RESET_BODY)


# --- email verification ----------------------------------------------------------------------------

def test_optional_verification_mails_a_link_at_registration(make_server, smtp_sink):
    """EMAIL_VERIFICATION=optional: registration answers its TokenPair as before and sends a
    verification link; the account works unverified; the link verifies it (User and the access
    token's claim); a verified account's request is 409; audited and counted."""
    s = mail_server(make_server, smtp_sink, {"EMAIL_VERIFICATION": "optional"})
    admin = s.admin_token()
    before = time.time()
    r = s.register("mia@example.com", "mia")
    assert r.status_code == 201 and set(r.json()) == TOKEN_PAIR_KEYS, r.text
    assert claims(r.json()["access_token"])["email_verified"] is False
    assert me(s, r.json()["access_token"])["email_verified"] is False
    msg = wait_mail(smtp_sink, "mia@example.com")[0]
    assert_mail_shape(msg, "mia@example.com", before)
    link, token = link_in(msg, s.base + "/ui/verify-email")
    pair = login_pair(s, "mia")  # optional: signing in works unverified

    user = assert_user(verify_email(s, token), "mia@example.com", True)
    assert set(user) >= USER_KEYS
    r = verify_email(s, token)
    assert (r.status_code, body_of(r)) == INVALID_TOKEN
    fresh = login_pair(s, "mia")["access_token"]
    assert claims(fresh)["email_verified"] is True
    assert me(s, fresh)["email_verified"] is True
    assert len(wait_audit(s, admin, "email.verification_requested")) == 1
    assert len(wait_audit(s, admin, "email.verified")) == 1
    flows = {o: metric(s, "gatehouse_email_flows_total", flow="email_verification", outcome=o)
             for o in ("requested", "completed", "rejected")}
    assert flows == {"requested": 1, "completed": 1, "rejected": 1}, flows
    for token_ in (fresh, pair["access_token"]):
        r = request_verification(s, auth(token_))
        assert (r.status_code, body_of(r)) == (409, {"detail": "Email already verified"})


def test_required_verification_blocks_login_until_the_link_is_followed(make_server, smtp_sink):
    """EMAIL_VERIFICATION=required: registration answers 201 with the User (no tokens) and mails a
    link; the right password of an unverified account is 403 Email not verified, a wrong one stays
    401; after the link (followed like a person) login works and the token says so."""
    s = mail_server(make_server, smtp_sink, {"EMAIL_VERIFICATION": "required"})
    r = s.register("nora@example.com", "nora")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= USER_KEYS and not set(body) & TOKEN_PAIR_KEYS, body
    assert (body["email"], body["email_verified"]) == ("nora@example.com", False), body
    r = s.login("nora", "Wr0ng-passw0rd!")
    assert (r.status_code, body_of(r)) == WRONG_PASSWORD
    r = s.login("nobody-at-all", "Wr0ng-passw0rd!")
    assert (r.status_code, body_of(r)) == WRONG_PASSWORD
    for name in ("nora", "nora@example.com"):
        r = s.login(name, PASSWORD)
        assert (r.status_code, body_of(r)) == (403, {"detail": "Email not verified"})
    link, _ = link_in(wait_mail(smtp_sink, "nora@example.com")[0], s.base + "/ui/verify-email")
    assert_html(follow_link(s, link, "/ui/verify-email"), 200)
    access = login_pair(s, "nora")["access_token"]
    assert claims(access)["email_verified"] is True
    assert me(s, access)["email_verified"] is True
    assert_html(follow_link(s, link, "/ui/verify-email"), 400)  # used


def test_verification_off_sends_nothing_at_registration_but_a_link_on_request(make_server, smtp_sink):
    """EMAIL_VERIFICATION=off (the default): registration mails nothing; a user can still ask for a
    link (with a user token: an API key is refused) and verify."""
    s = mail_server(make_server, smtp_sink)
    r = s.register("otto@example.com", "otto")
    assert r.status_code == 201 and set(r.json()) == TOKEN_PAIR_KEYS, r.text
    assert claims(r.json()["access_token"])["email_verified"] is False
    access = login_pair(s, "otto")["access_token"]
    key = create_key(s, access)
    r = request_verification(s, {"X-API-Key": key})
    assert (r.status_code, body_of(r)) == (403, {"detail": "Insufficient permissions"})
    assert request_verification(s, {}).status_code == 401
    assert_accepted(request_verification(s, auth(access)), VERIFY_SENT_BODY)
    msg = wait_mail(smtp_sink, "otto@example.com")[0]
    _, token = link_in(msg, s.base + "/ui/verify-email")
    wait_metric(s, "gatehouse_mail_messages_total", 1, event="sent")
    time.sleep(0.5)
    assert len(smtp_sink.messages) == 1  # the registration sent nothing
    assert_user(verify_email(s, token), "otto@example.com", True)


# --- email change ----------------------------------------------------------------------------------

@pytest.mark.timing
def test_changing_the_email_confirms_the_new_address_and_notifies_the_old(make_server, smtp_sink):
    """POST /auth/email/change needs a fresh user token (step-up; an API key is refused): 202; the
    new address gets a link to /ui/confirm-email, the old one a notice without any token; nothing
    changes until the confirmation, which is single use; then login goes by the new address and
    the address counts as verified."""
    s = mail_server(make_server, smtp_sink, {"STEP_UP_MAX_AGE_SECONDS": "3"})
    admin = s.admin_token()
    old = new_user(s, "pia")
    early = login_pair(s, "pia")["access_token"]
    key = create_key(s, early)
    r = change_email(s, {"X-API-Key": key}, "pia.key@example.com")
    # Account management takes a user token only: an API key is 403 (docs/api.md), as elsewhere.
    assert (r.status_code, body_of(r)) == (403, {"detail": "Insufficient permissions"})
    assert change_email(s, {}, "pia.none@example.com").status_code == 401
    time.sleep(max(0.0, claims(early)["iat"] + 4.2 - time.time()))
    r = change_email(s, auth(early), "pia.stale@example.com")  # authenticated too long ago
    assert r.status_code == 401 and "insufficient_user_authentication" in r.headers.get("WWW-Authenticate", ""), \
        (r.status_code, r.headers, body_of(r))

    access = login_pair(s, "pia")["access_token"]
    before = time.time()
    assert_accepted(change_email(s, auth(access), "pia.new@example.com"), CHANGE_SENT_BODY)
    confirmation = wait_mail(smtp_sink, "pia.new@example.com")[0]
    assert_mail_shape(confirmation, "pia.new@example.com", before)
    link, token = link_in(confirmation, s.base + "/ui/confirm-email")
    notice = wait_mail(smtp_sink, old)[0]
    assert_mail_shape(notice, old, before)
    assert "#token=" not in text_part(notice) and "#token=" not in html_part(notice)
    assert token not in notice.as_string()
    for stale in ("pia.key@example.com", "pia.none@example.com", "pia.stale@example.com"):
        assert mails_to(smtp_sink, stale) == []

    assert me(s, access)["email"] == old  # nothing yet
    login_pair(s, old)
    user = assert_user(confirm_change(s, token), "pia.new@example.com", True)
    assert user["username"] == "pia"
    r = confirm_change(s, token)
    assert (r.status_code, body_of(r)) == INVALID_TOKEN
    assert_html(follow_link(s, link, "/ui/confirm-email"), 400)
    fresh = login_pair(s, "pia.new@example.com")["access_token"]
    assert (me(s, fresh)["email"], claims(fresh)["email_verified"]) == ("pia.new@example.com", True)
    r = s.login(old, PASSWORD)
    assert (r.status_code, body_of(r)) == WRONG_PASSWORD
    assert len(wait_audit(s, admin, "email.change_requested")) == 1
    assert len(wait_audit(s, admin, "email.changed")) == 1
    assert metric(s, "gatehouse_email_flows_total", flow="email_change", outcome="requested") == 1
    assert metric(s, "gatehouse_email_flows_total", flow="email_change", outcome="completed") == 1


@pytest.mark.parametrize("end", ["reuse", "session-delete", "logout"])
def test_an_email_change_dies_with_the_session_that_asked_for_it(make_server, smtp_sink, end):
    """An outside attack: a thief refreshing a stolen refresh token (the session's auth_time, so
    step-up passed) asked to change the address to theirs; the owner's client then tripped reuse
    detection, or the owner ended that session, or it was logged out, and the confirmation still
    changed the address (then a reset took the account). The link stands only while the asking
    session lives."""
    s = mail_server(make_server, smtp_sink)
    old = new_user(s, f"vic{end.replace('-', '')}")
    name = old.split("@")[0]
    owner = login_pair(s, name)
    thief = requests.post(api(s, "/auth/refresh"), json={"refresh_token": owner["refresh_token"]})
    assert thief.status_code == 200, thief.text
    thief = thief.json()
    stolen_address = f"thief.{name}@example.com"
    assert_accepted(change_email(s, auth(thief["access_token"]), stolen_address), CHANGE_SENT_BODY)
    _, token = link_in(wait_mail(smtp_sink, stolen_address)[0], s.base + "/ui/confirm-email")
    if end == "reuse":  # the owner's client refreshes with the token the thief rotated
        r = requests.post(api(s, "/auth/refresh"), json={"refresh_token": owner["refresh_token"]})
        assert r.status_code == 401, r.text
    elif end == "session-delete":  # the owner, signed in again, ends the other session
        mine = login_pair(s, name)["access_token"]
        sid = claims(thief["access_token"])["sid"]
        r = requests.delete(api(s, f"/auth/sessions/{sid}"), headers=auth(mine))
        assert r.status_code == 204, r.text
    else:
        r = requests.post(api(s, "/auth/logout"), headers=auth(thief["access_token"]),
                          json={"refresh_token": thief["refresh_token"]})
        assert r.status_code in (200, 204), r.text
    r = confirm_change(s, token)
    assert (r.status_code, body_of(r)) == INVALID_TOKEN
    fresh = login_pair(s, name)["access_token"]
    assert me(s, fresh)["email"] == old


def test_an_administrators_change_of_address_is_told_to_the_address_it_had(make_server, smtp_sink):
    """Found by an outside attack (stop 60): a moderator moved an account to an address of their
    own, had its reset link sent there and moved the account back; the owner's mailbox heard
    nothing, and the record said only that the address changed. The address it had now gets an
    `email-changed` notice naming the new one, and the record names both."""
    s = mail_server(make_server, smtp_sink, {"STEP_UP_MAX_AGE_SECONDS": "600", "EMAIL_IP_RATE_LIMIT": "2/hour"})
    admin = s.admin_token()
    owner = new_user(s, "ottilie")
    uid = me(s, login_pair(s, "ottilie")["access_token"])["id"]
    before = len(mails_to(smtp_sink, owner))
    r = requests.patch(api(s, f"/users/{uid}"), headers=auth(admin), json={"email": "taken.over@example.net"})
    assert r.status_code == 200, r.text
    told = wait_mail(smtp_sink, owner, before + 1)[-1]
    assert "was changed" in told["Subject"], told["Subject"]
    assert "taken.over@example.net" in text_part(told) and owner in text_part(told)
    mine = [e for e in audit(s, admin, type="user.updated") if e["subject_id"] == uid]
    assert mine and mine[0]["detail"]["email_from"] == owner, mine
    assert mine[0]["detail"]["email_to"] == "taken.over@example.net", mine
    # A change of letter case alone is no change of mailbox: nothing is queued.
    queued = len(audit(s, admin, type="mail.queued"))
    r = requests.patch(api(s, f"/users/{uid}"), headers=auth(admin), json={"email": "Taken.Over@example.net"})
    assert r.status_code == 200, r.text
    assert len(audit(s, admin, type="mail.queued")) == queued
    # The one acting cannot spend the notice's count first (a review): changes of a throwaway
    # account's address, from the same client, past every count of the client's, and the
    # owner's old address still hears of its own change.
    new_user(s, "spare")
    spare_id = me(s, login_pair(s, "spare")["access_token"])["id"]
    for i in range(40):
        r = requests.patch(api(s, f"/users/{spare_id}"), headers=auth(admin), json={"email": f"spare{i}@example.org"})
        assert r.status_code == 200, r.text
    r = requests.patch(api(s, f"/users/{uid}"), headers=auth(admin), json={"email": owner})
    assert r.status_code == 200, r.text
    wait_mail(smtp_sink, "taken.over@example.net", len(mails_to(smtp_sink, "taken.over@example.net")) + 1)


def test_links_sent_to_an_address_never_work_again_once_it_changed(make_server, smtp_sink):
    """An outside attack: a reset link for address A, then A -> B -> A, and the old link reset the
    password again (it was only set aside while the address differed)."""
    s = mail_server(make_server, smtp_sink, {"STEP_UP_MAX_AGE_SECONDS": "600"})
    admin = s.admin_token()
    first = new_user(s, "rosa")

    def next_link(address, page):
        """The token of the next message to `address` linking to `page` (notices come between)."""
        seen = len(mails_to(smtp_sink, address))

        def token():
            deadline = time.monotonic() + MAIL_WAIT
            while time.monotonic() < deadline:
                for m in mails_to(smtp_sink, address)[seen:]:
                    if s.base + page + "#token=" in text_part(m):
                        return link_in(m, s.base + page)[1]
                time.sleep(0.05)
            raise AssertionError(f"no mail to {address} linking to {page}")
        return token

    reset_mail = next_link(first, "/ui/reset-password")
    assert_accepted(forgot(s, first), FORGOT_BODY)
    reset_token = reset_mail()
    access = login_pair(s, "rosa")["access_token"]
    verify_mail = next_link(first, "/ui/verify-email")
    assert_accepted(request_verification(s, auth(access)), VERIFY_SENT_BODY)
    verify_token = verify_mail()
    uid = me(s, access)["id"]
    # Away and back: by the owner's confirmed change, then by an administrator.
    change_mail = next_link("rosa.b@example.com", "/ui/confirm-email")
    assert_accepted(change_email(s, auth(access), "rosa.b@example.com"), CHANGE_SENT_BODY)
    assert_user(confirm_change(s, change_mail()), "rosa.b@example.com", True)
    r = requests.patch(api(s, f"/users/{uid}"), headers=auth(admin), json={"email": first})
    assert r.status_code == 200, r.text
    r = reset(s, reset_token)
    assert (r.status_code, body_of(r)) == INVALID_TOKEN
    r = verify_email(s, verify_token)
    assert (r.status_code, body_of(r)) == INVALID_TOKEN
    login_pair(s, "rosa")  # the password is still the owner's
    # A change of letter case leaves a link working; an administrator's change away and back
    # does not.
    second_mail = next_link(first, "/ui/reset-password")
    assert_accepted(forgot(s, first), FORGOT_BODY)
    second = second_mail()
    r = requests.patch(api(s, f"/users/{uid}"), headers=auth(admin), json={"email": first.upper()})
    assert r.status_code == 200, r.text
    assert reset(s, second).status_code == 200
    third_mail = next_link(first.upper(), "/ui/reset-password")
    assert_accepted(forgot(s, first), FORGOT_BODY)
    third = third_mail()
    for address in ("rosa.c@example.com", first):
        r = requests.patch(api(s, f"/users/{uid}"), headers=auth(admin), json={"email": address})
        assert r.status_code == 200, r.text
    r = reset(s, third)
    assert (r.status_code, body_of(r)) == INVALID_TOKEN


def test_an_email_change_confirmed_through_the_page(make_server, smtp_sink):
    """The confirmation link followed like a person: the page, then its form."""
    s = mail_server(make_server, smtp_sink)
    new_user(s, "quin")
    access = login_pair(s, "quin")["access_token"]
    assert_accepted(change_email(s, auth(access), "quin.new@example.com"), CHANGE_SENT_BODY)
    link, _ = link_in(wait_mail(smtp_sink, "quin.new@example.com")[0], s.base + "/ui/confirm-email")
    assert_html(follow_link(s, link, "/ui/confirm-email"), 200)
    assert me(s, login_pair(s, "quin.new@example.com")["access_token"])["email_verified"] is True


def test_changing_to_a_taken_address_answers_like_a_free_one_and_fails_at_confirmation(make_server, smtp_sink):
    """No enumeration: asking for an address someone holds answers exactly like a free one (status,
    body, header names); the confirmation then says 409 Email already registered; so does the
    confirmation of an address someone registered in between."""
    s = mail_server(make_server, smtp_sink)
    new_user(s, "rosa")
    new_user(s, "sven")
    taken = new_user(s, "tara")
    rosa_token = login_pair(s, "rosa")["access_token"]
    rosa = auth(rosa_token)
    sven = auth(login_pair(s, "sven")["access_token"])
    to_taken = change_email(s, rosa, taken)
    to_free = change_email(s, sven, "sven.new@example.com")
    assert_accepted(to_taken, CHANGE_SENT_BODY)
    assert_accepted(to_free, CHANGE_SENT_BODY)
    assert to_taken.content == to_free.content
    assert sorted(to_taken.headers.keys()) == sorted(to_free.headers.keys())

    confirmation = [m for m in wait_mail(smtp_sink, taken) if links_in(m)[0]]
    assert confirmation, "the taken address got no confirmation link"
    _, token = link_in(confirmation[0], s.base + "/ui/confirm-email")
    r = confirm_change(s, token)
    assert (r.status_code, body_of(r)) == (409, {"detail": "Email already registered"})
    assert me(s, rosa_token)["email"] == "rosa@example.com"

    _, token = link_in(wait_mail(smtp_sink, "sven.new@example.com")[0], s.base + "/ui/confirm-email")
    new_user(s, "usurper", "sven.new@example.com")  # registered before Sven confirms
    r = confirm_change(s, token)
    assert (r.status_code, body_of(r)) == (409, {"detail": "Email already registered"})
    assert me(s, login_pair(s, "sven")["access_token"])["email"] == "sven@example.com"


# --- no transport, a file transport ----------------------------------------------------------------

def test_without_mail_the_sending_flows_answer_503(make_server):
    """Neither SMTP_URL nor MAIL_FILE: forgot (known or unknown), verification requests and email
    changes answer 503 Email delivery is not configured; spending a made-up token is still 400."""
    s = mail_server(make_server)
    address = new_user(s, "uma")
    access = auth(login_pair(s, "uma")["access_token"])
    for r in (forgot(s, address), forgot(s, "ghost@example.com"), request_verification(s, access),
              change_email(s, access, "uma.new@example.com")):
        assert (r.status_code, body_of(r)) == NOT_CONFIGURED, (r.request.url, r.status_code, body_of(r))
    for r in (reset(s, "C" * 43), verify_email(s, "C" * 43), confirm_change(s, "C" * 43)):
        assert (r.status_code, body_of(r)) == INVALID_TOKEN, (r.request.url, r.status_code, body_of(r))


def test_smtp_url_and_mail_file_together_stop_startup(tmp_path):
    """Two transports at once is a configuration error: `serve` exits non-zero, naming them,
    without printing the SMTP password."""
    s = Server(tmp_path, {"SMTP_URL": f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{free_port()}",
                          "SMTP_FROM": SMTP_FROM, "MAIL_FILE": str(tmp_path / "mail.mbox"),
                          "GATEHOUSE_PUBLIC_URL": "http://127.0.0.1:1"})
    try:
        r = s.serve_to_exit()
    except subprocess.TimeoutExpired:
        pytest.fail("the server started with both SMTP_URL and MAIL_FILE")
    assert r.returncode != 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "MAIL_FILE" in out or "SMTP_URL" in out, out
    assert SMTP_PASSWORD not in out, out


def test_mail_file_collects_messages_in_mbox_format(make_server, tmp_path):
    """MAIL_FILE: every message, the CLI's test message too, is appended to an mbox file that
    Python's mailbox module reads; the links in it work."""
    box = tmp_path / "outbox.mbox"
    s = mail_server(make_server, None, {"MAIL_FILE": str(box), "SMTP_FROM": SMTP_FROM})
    address = new_user(s, "vera")
    access = login_pair(s, "vera")["access_token"]
    assert_accepted(forgot(s, address), FORGOT_BODY)
    assert_accepted(request_verification(s, auth(access)), VERIFY_SENT_BODY)

    def read():
        if not box.exists():
            return []
        mb = mailbox.mbox(str(box))
        try:
            return [email.message_from_bytes(mb.get_bytes(k), policy=email.policy.default) for k in mb.keys()]
        finally:
            mb.close()

    deadline = time.monotonic() + MAIL_WAIT
    while len(messages := read()) < 2:
        assert time.monotonic() < deadline, f"{len(messages)} message(s) in {box}"
        time.sleep(0.05)
    paths = {}
    for msg in messages:
        assert_mail_shape(msg, address, time.time() - 600)
        link = links_in(msg)[0][0]
        paths[urllib.parse.urlsplit(link).path] = link_in(msg, link.split("#")[0])[1]
    assert set(paths) == {"/ui/reset-password", "/ui/verify-email"}, paths
    # A reset drops every other emailed token of the account: the verification goes first.
    assert_user(verify_email(s, paths["/ui/verify-email"]), address, True)
    assert reset(s, paths["/ui/reset-password"]).status_code == 200

    r = s.cli("mail", "test", "--to", "ops@example.com")
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(recipients(m) == ["ops@example.com"] for m in read())


# --- templates -------------------------------------------------------------------------------------

def test_templates_from_the_template_dir_override_the_built_ins(make_server, smtp_sink, tmp_path):
    """GATEHOUSE_TEMPLATE_DIR with BRAND_NAME=Acme: a custom reset-password.txt is used for the
    text part while the HTML part and subject stay built in (with the brand and the link); a
    custom verify-email subject and HTML get their placeholders, HTML-escaped in the HTML only;
    the email-change notice gets {{new_email}}; the CLI's test message its own subject."""
    templates = tmp_path / "templates"
    (templates / "mail").mkdir(parents=True)
    (templates / "mail" / "reset-password.txt").write_text("{{product}} CUSTOM {{link}}\n")
    (templates / "mail" / "verify-email.subject").write_text("{{product}} check for {{email}}\n")
    (templates / "mail" / "verify-email.html").write_text(
        '<p>Hello {{username}} &lt;{{email}}&gt; at {{public_url}}: <a href="{{link}}">verify</a> '
        "within {{expires}}</p>\n")
    (templates / "mail" / "email-change-notice.txt").write_text("{{username}}: {{email}} becomes {{new_email}} ({{product}})\n")
    (templates / "mail" / "test.subject").write_text("{{product}} says hello\n")
    s = mail_server(make_server, smtp_sink, {"GATEHOUSE_TEMPLATE_DIR": str(templates), "BRAND_NAME": "Acme"})
    address = "o'neil&co@example.com"
    new_user(s, "o.neil-co_1", address)
    assert_accepted(forgot(s, address), FORGOT_BODY)
    msg = wait_mail(smtp_sink, address)[0]
    link, _ = link_in(msg, s.base + "/ui/reset-password")
    assert text_part(msg).strip() == f"Acme CUSTOM {link}", text_part(msg)
    assert "CUSTOM" not in html_part(msg) and "Acme" in html_part(msg), html_part(msg)
    assert "password" in str(msg["Subject"]).lower(), msg["Subject"]

    access = login_pair(s, "o.neil-co_1")["access_token"]
    assert_accepted(request_verification(s, auth(access)), VERIFY_SENT_BODY)
    msg = next(m for m in wait_mail(smtp_sink, address, 2) if "/ui/verify-email" in text_part(m))
    assert str(msg["Subject"]).strip() == f"Acme check for {address}", msg["Subject"]
    link, _ = link_in(msg, s.base + "/ui/verify-email")
    body = html_part(msg)
    assert f'<a href="{link}">verify</a>' in body, body
    assert "Hello o.neil-co_1 <o'neil&co@example.com>" in html.unescape(body), body
    assert "&amp;co@example.com&gt;" in body and "o'neil&co" not in body, body  # escaped
    assert f"at {s.base}:" in body and "{{" not in body, body
    assert "{{" not in text_part(msg) and link in text_part(msg)  # the built-in text part

    assert_accepted(change_email(s, auth(access), "neil.new@example.com"), CHANGE_SENT_BODY)
    link_in(wait_mail(smtp_sink, "neil.new@example.com")[0], s.base + "/ui/confirm-email")
    notice = [m for m in wait_mail(smtp_sink, address, 3) if not links_in(m)[0]]
    assert len(notice) == 1, [text_part(m) for m in mails_to(smtp_sink, address)]
    assert text_part(notice[0]).strip() == f"o.neil-co_1: {address} becomes neil.new@example.com (Acme)", \
        text_part(notice[0])
    r = s.cli("mail", "test", "--to", "ops@example.com")
    assert r.returncode == 0, r.stdout + r.stderr
    assert str(wait_mail(smtp_sink, "ops@example.com")[0]["Subject"]).strip() == "Acme says hello"


# --- delivery: failures, retries, crashes, several nodes -------------------------------------------

class BlackHoleSmtp:
    """A TCP listener that accepts connections and never says a word."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        self.listener.close()
        for c in self.conns:
            c.close()


@pytest.mark.timing
def test_requests_never_wait_for_smtp(make_server, tmp_path):
    """An SMTP server that accepts and then says nothing: every mail-sending request still
    answers at once."""
    hole = BlackHoleSmtp()
    try:
        s = mail_server(make_server, None, {"SMTP_URL": f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{hole.port}",
                                            "SMTP_CA_FILE": make_ca(tmp_path)[0], "SMTP_FROM": SMTP_FROM})
        address = new_user(s, "walt")
        access = auth(login_pair(s, "walt")["access_token"])
        calls = [lambda: forgot(s, address)] * 4 + [lambda: request_verification(s, access),
                                                    lambda: change_email(s, access, "walt.new@example.com")]
        for call in calls:
            start = time.perf_counter()
            r = call()
            elapsed = time.perf_counter() - start
            assert r.status_code == 202, r.text
            assert elapsed < 1.0, f"{r.request.url} took {elapsed:.2f} s"
        deadline = time.monotonic() + 10
        while not hole.conns:  # the sender did try (and is now stuck on it)
            assert time.monotonic() < deadline, "the server never connected to the SMTP server"
            time.sleep(0.05)
    finally:
        hole.close()


def test_a_message_queued_while_smtp_is_down_is_delivered_once_when_it_is_back(make_server, make_sink):
    """SMTP goes down: forgot still answers 202, the delivery fails (counted, audited) and is
    retried; once the server is back on the same port, the mail arrives exactly once and its link
    works."""
    sink = make_sink()
    s = mail_server(make_server, sink, FAST_RETRIES)
    admin = s.admin_token()
    before = new_user(s, "yann")
    address = new_user(s, "xena")
    assert_accepted(forgot(s, before), FORGOT_BODY)
    wait_mail(sink, before)
    sink.stop()
    assert_accepted(forgot(s, address), FORGOT_BODY)
    wait_metric(s, "gatehouse_mail_messages_total", 1, event="failed")
    failed = wait_audit(s, admin, "mail.failed")
    assert SMTP_PASSWORD not in json.dumps(failed)
    assert mails_to(sink, address) == []
    sink.start()
    msg = wait_mail(sink, address, timeout=30)[0]
    wait_metric(s, "gatehouse_mail_messages_total", 2, event="sent")
    time.sleep(3)  # three polls: a second copy would be out by now
    assert sorted(r for m in sink.messages for r in recipients(m)) == [address, before], \
        [recipients(m) for m in sink.messages]
    assert (mail_metric(s, "queued"), mail_metric(s, "sent"), mail_metric(s, "abandoned")) == (2, 2, 0)
    _, token = link_in(msg, s.base + "/ui/reset-password")
    assert reset(s, token).status_code == 200


def test_a_message_is_abandoned_after_mail_max_attempts(make_server, make_sink):
    """MAIL_MAX_ATTEMPTS=2: after two failed deliveries the message is abandoned (counted) and not
    sent when the SMTP server comes back."""
    sink = make_sink(start=False)
    s = mail_server(make_server, sink, {**FAST_RETRIES, "MAIL_MAX_ATTEMPTS": "2"})
    address = new_user(s, "yuri")
    assert_accepted(forgot(s, address), FORGOT_BODY)
    wait_metric(s, "gatehouse_mail_messages_total", 1, event="abandoned", timeout=30)
    assert mail_metric(s, "failed") >= 1
    sink.start()
    time.sleep(4)
    assert sink.messages == []


def test_failed_deliveries_are_retried_with_growing_delays(make_server, make_sink):
    """MAIL_RETRY_BASE_SECONDS=1 doubling: the retries wait about 1 s, then 2 s, then 4 s (in whole
    seconds, checked once a second). So the fourth failure comes at least about 3 s after the
    first, which a hot loop or a fixed one-second retry would not do; and the message arrives once
    SMTP is back."""
    sink = make_sink(start=False)
    s = mail_server(make_server, sink, FAST_RETRIES)
    address = new_user(s, "boris")
    assert_accepted(forgot(s, address), FORGOT_BODY)
    first = fourth = None  # when the first and the fourth failure were first seen
    deadline = time.monotonic() + 40
    while fourth is None:
        failed = mail_metric(s, "failed")
        now = time.monotonic()
        if failed >= 1 and first is None:
            first = now
        if failed >= 4:
            fourth = now
        assert now < deadline, (failed, first)
        time.sleep(0.05)
    # Waits of 1, 2 and 4 s, each at least a second shorter by the whole-second clock: >= 4 s in
    # all. A fixed one-second retry would take at most 3 s, a hot loop none.
    assert fourth - first >= 3.5, fourth - first
    assert mail_metric(s, "abandoned") == 0
    sink.start()
    wait_mail(sink, address, timeout=30)


def test_a_sigkill_after_the_commit_loses_no_message_and_sends_it_once(make_server, make_sink):
    """The outbox survives a crash: forgot is committed (queued) while SMTP is down, the node is
    SIGKILLed, SMTP comes back, the node starts again on the same data: exactly one message."""
    sink = make_sink(start=False)
    s = mail_server(make_server, sink, FAST_RETRIES)
    address = new_user(s, "zack")
    assert_accepted(forgot(s, address), FORGOT_BODY)
    wait_metric(s, "gatehouse_mail_messages_total", 1, event="queued")
    s.kill()
    sink.start()
    time.sleep(0.5)
    assert sink.messages == []  # nobody else could have sent it
    s.start()
    msg = wait_mail(sink, address, timeout=30)[0]
    time.sleep(3)
    assert len(sink.messages) == 1, [recipients(m) for m in sink.messages]
    _, token = link_in(msg, s.base + "/ui/reset-password")
    assert reset(s, token).status_code == 200
    login_pair(s, "zack", NEW_PASSWORD)


# --- transport security ----------------------------------------------------------------------------

TRANSPORT_CASES = {
    # name: (sink options, extra gatehouse env, env() options, delivered?)
    "starttls-required-but-not-offered": ({"starttls": False}, {}, {}, False),
    "starttls-off-by-configuration": ({"starttls": False}, {"SMTP_STARTTLS": "false"}, {}, True),
    "certificate-from-a-foreign-ca": ({"foreign_ca": True}, {}, {}, False),
    "wrong-smtp-password": ({}, {}, {"password": "not-the-password"}, False),
    "smtps": ({"implicit_tls": True}, {}, {}, True),
    "smtps-certificate-from-a-foreign-ca": ({"implicit_tls": True, "foreign_ca": True}, {}, {}, False),
}


@pytest.mark.parametrize("case", list(TRANSPORT_CASES))
def test_the_smtp_connection_is_verified_and_authenticated(make_server, make_sink, case):
    """STARTTLS is required unless SMTP_STARTTLS=false, the server certificate is verified against
    SMTP_CA_FILE (for smtps:// too) and a refused login sends nothing; where TLS was required but
    failed, the password was never sent at all."""
    sink_options, env, env_options, delivered = TRANSPORT_CASES[case]
    sink = make_sink(**sink_options)
    s = mail_server(make_server, None, {**sink.env(**env_options), **env, **FAST_RETRIES})
    address = new_user(s, "tls-" + case[:20].strip("-"))
    assert_accepted(forgot(s, address), FORGOT_BODY)
    if delivered:
        msg = wait_mail(sink, address)[0]
        link_in(msg, s.base + "/ui/reset-password")
        envelope = sink.envelopes[0]
        assert envelope.login == SMTP_USER and envelope.tls == sink_options.get("implicit_tls", False), envelope
    else:
        wait_metric(s, "gatehouse_mail_messages_total", 1, event="failed")
        time.sleep(1.5)  # a retry, too, must not get through
        assert sink.messages == [], [recipients(m) for m in sink.messages]
        assert mail_metric(s, "sent") == 0
        if case != "wrong-smtp-password":
            assert sink.auth_attempts == [], sink.auth_attempts  # no password over an unverified channel
        else:
            assert sink.auth_attempts and all(a.tls for a in sink.auth_attempts), sink.auth_attempts


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (run scripts/test.sh)")
def test_two_nodes_send_each_message_once_and_share_tokens(make_server, make_sink, tmp_path):
    """Two nodes on one PostgreSQL (and one Redis) and one slow SMTP server: twelve forgot
    requests spread over both nodes give exactly twelve messages, one per user; a token issued
    through node A is spent on node B, and a replay on A is 400."""
    sink = make_sink(delay=0.3)  # slow: widens any window in which both nodes could send one message
    redis = Redis(tmp_path)
    redis.start()
    try:
        db = fresh_database()
        a, b = make_server(start=False), make_server(start=False)
        for n in (a, b):
            data = tmp_path / f"data-{n.port}"
            data.mkdir()
            # Several nodes share one MFA_SECRET_KEY (docs/deployment.md): the outbox's bodies
            # are sealed under a key derived from it.
            n.env.update({**NO_LIMITS, **sink.env(), **FAST_RETRIES}, DATABASE_URL=db, REDIS_URL=redis.url,
                         GATEHOUSE_DATA_DIR=str(data), GATEHOUSE_PUBLIC_URL=a.base,
                         MFA_SECRET_KEY="two-nodes-share-this-mfa-secret-key-0123456789")
        a.start()
        b.start()
        users = [f"multi{i}" for i in range(12)]
        for i, name in enumerate(users):
            new_user(a if i % 2 else b, name)

        def ask(i):
            return forgot(a if i % 2 == 0 else b, f"{users[i]}@example.com")

        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            for r in pool.map(ask, range(12)):
                assert_accepted(r, FORGOT_BODY)
        sink.wait_for(12, timeout=30)
        time.sleep(3)  # three polls of each node: a duplicate would be out by now
        got = sorted(r for m in sink.messages for r in recipients(m))
        assert got == sorted(f"{u}@example.com" for u in users), got
        sent = sum(mail_metric(n, "sent") for n in (a, b))
        queued = sum(mail_metric(n, "queued") for n in (a, b))
        assert (queued, sent) == (12, 12), (queued, sent)

        via_a = mails_to(sink, "multi0@example.com")[0]  # asked through node A
        _, token = link_in(via_a, a.base + "/ui/reset-password")
        r = reset(b, token)
        assert (r.status_code, body_of(r)) == (200, RESET_BODY)
        r = reset(a, token, "An0ther-Passw0rd!")
        assert (r.status_code, body_of(r)) == INVALID_TOKEN
        login_pair(a, "multi0", NEW_PASSWORD)
    finally:
        redis.stop()


# --- the command line ------------------------------------------------------------------------------

def test_mail_test_command_sends_synchronously_and_fails_clearly_without_smtp(make_server, smtp_sink):
    """`gatehouse mail test --to ADDRESS` with the server's environment: the message is there when
    the command returns 0 and says where it went; with SMTP down it exits non-zero with a reason;
    the SMTP password is printed in neither case."""
    s = mail_server(make_server, smtp_sink)
    r = s.cli("mail", "test", "--to", "ops@example.com")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "ops@example.com" in out or f"127.0.0.1:{smtp_sink.port}" in out, out
    assert SMTP_PASSWORD not in out, out
    got = mails_to(smtp_sink, "ops@example.com")  # no waiting: it was sent before the command ended
    assert len(got) == 1, [recipients(m) for m in smtp_sink.messages]
    assert_mail_shape(got[0], "ops@example.com", time.time() - 120)
    smtp_sink.stop()
    r = s.cli("mail", "test", "--to", "ops@example.com")
    assert r.returncode != 0, r.stdout + r.stderr
    assert r.stderr.strip(), "no reason given"
    assert SMTP_PASSWORD not in r.stdout + r.stderr, r.stdout + r.stderr


# --- secrets, audit, metrics -----------------------------------------------------------------------

def test_tokens_and_passwords_never_reach_the_log_or_the_audit_trail(make_server, smtp_sink, tmp_path):
    """At debug level, after a reset, a verification and an email change: neither a token from the
    mails, nor the SMTP password, nor a new password (accepted or refused) is in the server's log,
    the audit file, or `gatehouse config`."""
    audit_file = tmp_path / "audit.jsonl"
    s = mail_server(make_server, smtp_sink, {"GATEHOUSE_LOG_LEVEL": "debug", "AUDIT_LOG_FILE": str(audit_file)})
    address = new_user(s, "quiet")
    access = auth(login_pair(s, "quiet")["access_token"])
    assert_accepted(forgot(s, address), FORGOT_BODY)
    assert_accepted(request_verification(s, access), VERIFY_SENT_BODY)
    messages = wait_mail(smtp_sink, address, 2)
    by_path = {urllib.parse.urlsplit(link).path: link.split("#token=", 1)[1]
               for m in messages for link in links_in(m)[0]}
    refused = "nouppercase-secret-9!"
    assert verify_email(s, by_path["/ui/verify-email"]).status_code == 200
    assert reset(s, by_path["/ui/reset-password"], refused).status_code == 422
    assert reset(s, by_path["/ui/reset-password"]).status_code == 200
    # The reset ended every session (and dropped any other emailed token): sign in again to
    # change the address.
    access = auth(login_pair(s, "quiet", NEW_PASSWORD)["access_token"])
    assert_accepted(change_email(s, access, "quiet.new@example.com"), CHANGE_SENT_BODY)
    messages += wait_mail(smtp_sink, "quiet.new@example.com")
    by_path = {urllib.parse.urlsplit(link).path: link.split("#token=", 1)[1]
               for m in messages for link in links_in(m)[0]}
    assert set(by_path) == {"/ui/reset-password", "/ui/verify-email", "/ui/confirm-email"}, by_path
    tokens = list(by_path.values())
    assert confirm_change(s, by_path["/ui/confirm-email"]).status_code == 200
    assert s.cli("mail", "test", "--to", "ops@example.com").returncode == 0
    config = s.cli("config")
    time.sleep(0.5)  # the audit file is written as events happen
    written = {"log": s.log_text(), "audit": audit_file.read_text() if audit_file.exists() else "",
               "config": config.stdout + config.stderr}
    assert "password.reset" in written["log"] + written["audit"]  # the trail is there...
    for secret in tokens + [SMTP_PASSWORD, NEW_PASSWORD, refused]:  # ...without a secret in it
        for where, text in written.items():
            assert secret not in text, (where, secret)


def test_tokens_are_not_kept_in_clear_in_the_database(make_server, smtp_sink, tmp_path):
    """Tokens are stored only as a keyed hash: once its mail is sent, an unspent token appears in
    no column of any table (not in the outbox either)."""
    s = mail_server(make_server, smtp_sink)
    address = new_user(s, "vault")
    assert_accepted(forgot(s, address), FORGOT_BODY)
    _, token = link_in(wait_mail(smtp_sink, address)[0], s.base + "/ui/reset-password")
    wait_metric(s, "gatehouse_mail_messages_total", 1, event="sent")
    db = sqlite3.connect(f"file:{tmp_path}/data/gatehouse.db?mode=ro", uri=True, timeout=10)
    try:
        deadline = time.monotonic() + 5
        while True:
            found = []
            tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                for row in db.execute(f'SELECT * FROM "{table}"'):
                    for cell in row:
                        text = cell.decode("utf-8", "replace") if isinstance(cell, bytes) else str(cell)
                        if token in text:
                            found.append(table)
            if not found or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # the sent message may be cleared just after the metric moved
    finally:
        db.close()
    assert not found, f"the token is stored in clear in {sorted(set(found))}"
    assert reset(s, token).status_code == 200  # and it was a live token


def test_a_completed_reset_is_audited_and_counted(make_server, smtp_sink):
    """Audit events password.reset_requested, mail.queued, mail.sent and password.reset for the
    user, with no token in them; metrics for the mail (queued, sent) and the flow (requested,
    completed, rejected). The reset done, the address gets the password-changed notice, as after
    any password change (whoever reads the mailbox can reset it); a refused reset sends none."""
    s = mail_server(make_server, smtp_sink)
    admin = s.admin_token()
    address = new_user(s, "audrey")
    uid = me(s, login_pair(s, "audrey")["access_token"])["id"]
    assert_accepted(forgot(s, address), FORGOT_BODY)
    _, token = link_in(wait_mail(smtp_sink, address)[0], s.base + "/ui/reset-password")
    r = reset(s, "D" * 43)
    assert (r.status_code, body_of(r)) == INVALID_TOKEN
    assert mail_metric(s, "queued") == 1  # the refused reset told nobody
    assert reset(s, token).status_code == 200
    mails = wait_mail(smtp_sink, address, count=2)
    assert len(mails) == 2, [str(m["Subject"]) for m in mails]
    assert "password was changed" in str(mails[1]["Subject"]).lower(), str(mails[1]["Subject"])
    assert token not in mails[1].as_string() and "#token=" not in text_part(mails[1])

    requested = wait_audit(s, admin, "password.reset_requested")
    assert [e["subject_id"] for e in requested] == [uid], requested
    done = wait_audit(s, admin, "password.reset")
    assert [e["subject_id"] for e in done] == [uid], done
    queued = wait_audit(s, admin, "mail.queued", count=2)
    sent = wait_audit(s, admin, "mail.sent", count=2)
    assert len(queued) == 2 and len(sent) == 2, (queued, sent)
    assert sorted(e["detail"]["kind"] for e in queued) == ["password-changed", "reset-password"], queued
    trail = json.dumps(requested + done + queued + sent)
    assert token not in trail and SMTP_PASSWORD not in trail

    assert (mail_metric(s, "queued"), mail_metric(s, "sent"), mail_metric(s, "failed")) == (2, 2, 0)
    flows = {o: metric(s, "gatehouse_email_flows_total", flow="password_reset", outcome=o)
             for o in ("requested", "completed", "rejected")}
    assert flows == {"requested": 1, "completed": 1, "rejected": 1}, flows


# --- accounts from external sign-in ----------------------------------------------------------------

def test_an_account_from_external_sign_in_sets_a_first_password_by_reset(make_server, smtp_sink, tmp_path):
    """A user created by an OpenID provider has no password; forgot + reset gives it one, and the
    same account then signs in with it."""
    from test_oidc import FakeProvider, callback, exchange, start as start_sign_in

    ca, cert, key = make_ca(tmp_path)
    fake = FakeProvider((cert, key))
    try:
        s = mail_server(make_server, smtp_sink, {
            "OIDC_PROVIDERS": "fake", "OIDC_FAKE_ISSUER": fake.issuer, "OIDC_FAKE_CLIENT_ID": "gatehouse",
            "OIDC_FAKE_CLIENT_SECRET": "x" * 16, "OIDC_FAKE_ID_TOKEN_ALG": "ES256", "OIDC_CA_FILE": ca,
            "FRONTEND_URL": "http://frontend.test"})
        location, tx = start_sign_in(s, "fake")
        r = requests.get(location, verify=ca, allow_redirects=False)
        r = exchange(s, callback(s, r.headers["Location"], tx))
        assert r.status_code == 200, r.text
        user = me(s, r.json()["access_token"])
        assert user["email"] == "fake@example.net"
        assert s.login("fake@example.net", NEW_PASSWORD).status_code == 401  # no password yet

        assert_accepted(forgot(s, "fake@example.net"), FORGOT_BODY)
        _, token = link_in(wait_mail(smtp_sink, "fake@example.net")[0], s.base + "/ui/reset-password")
        assert reset(s, token).status_code == 200
        assert me(s, login_pair(s, "fake@example.net", NEW_PASSWORD)["access_token"])["id"] == user["id"]
    finally:
        fake.server.shutdown()


def test_an_unverified_provider_address_never_becomes_an_account_address(make_server, smtp_sink, tmp_path):
    """Pre-account hijacking through external sign-in: a provider user claims the victim's address
    unverified. The account made for them gets a placeholder address, so the victim registers
    their own address, resets its password by mail, and the attacker's next sign-in through the
    provider lands in the attacker's placeholder account, never in the victim's."""
    from test_oidc import FakeProvider, callback, exchange, start as start_sign_in

    ca, cert, key = make_ca(tmp_path)
    fake = FakeProvider((cert, key))
    fake.mode = "unverified_victim"
    try:
        s = mail_server(make_server, smtp_sink, {
            "OIDC_PROVIDERS": "fake", "OIDC_FAKE_ISSUER": fake.issuer, "OIDC_FAKE_CLIENT_ID": "gatehouse",
            "OIDC_FAKE_CLIENT_SECRET": "x" * 16, "OIDC_FAKE_ID_TOKEN_ALG": "ES256", "OIDC_CA_FILE": ca,
            "FRONTEND_URL": "http://frontend.test"})

        def attacker_signs_in():
            location, tx = start_sign_in(s, "fake")
            r = requests.get(location, verify=ca, allow_redirects=False)
            r = exchange(s, callback(s, r.headers["Location"], tx))
            assert r.status_code == 200, r.text
            return me(s, r.json()["access_token"])

        location, tx = start_sign_in(s, "fake")
        r = requests.get(location, verify=ca, allow_redirects=False)
        first = exchange(s, callback(s, r.headers["Location"], tx))
        assert first.status_code == 200, first.text
        squatter = me(s, first.json()["access_token"])
        assert squatter["email"] == "attacker-sub@fake.oidc.invalid" and not squatter["email_verified"]
        # Nothing to verify at a placeholder: change the address instead.
        r = request_verification(s, auth(first.json()["access_token"]))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["user", "email"], r.text
        new_user(s, "victim_pw", "victim@corp.example")  # the address is free
        assert_accepted(forgot(s, "victim@corp.example"), FORGOT_BODY)
        _, token = link_in(wait_mail(smtp_sink, "victim@corp.example")[0], s.base + "/ui/reset-password")
        assert reset(s, token).status_code == 200
        owner = me(s, login_pair(s, "victim_pw", NEW_PASSWORD)["access_token"])
        again = attacker_signs_in()
        assert again["id"] == squatter["id"] != owner["id"], (again, owner)
        # A placeholder address gets no mail: nothing to verify, no reset link. Such an address is
        # refused as input anywhere (whether an account has it or not), as at registration.
        r = forgot(s, "attacker-sub@fake.oidc.invalid")
        assert r.status_code == 422 and "a domain kept for external sign-in" in r.text, r.text
        time.sleep(2.5)  # forgot's work would wait up to 1.5 s after the answer, then mail
        assert mails_to(smtp_sink, "attacker-sub@fake.oidc.invalid") == []
    finally:
        fake.server.shutdown()


# --- found by the outside review of the email flows ------------------------------------------------

def test_metrics_tell_nothing_about_which_addresses_have_accounts_and_can_be_closed(make_server, smtp_sink):
    """The reset flow's "requested" counter counts every forgot request, known address or not;
    the outbox's counters do tell that a mail went out, so METRICS_TOKEN closes /metrics to all
    but the scraper holding it (401 without it or with a wrong one, compared in constant time)."""
    token = "scrape-" + "m" * 24
    s = mail_server(make_server, smtp_sink, {"METRICS_TOKEN": token})
    assert requests.get(s.url("/metrics")).status_code == 401
    assert requests.get(s.url("/metrics"), headers={"Authorization": "Bearer " + token[:-1] + "x"}).status_code == 401
    assert requests.get(s.url("/metrics"), headers={"Authorization": token}).status_code == 401
    assert requests.get(s.url("/metrics"), headers={"Authorization": "Basic " + token}).status_code == 401
    assert requests.get(s.url("/metrics"), headers={"Authorization": "Bearer" + token}).status_code == 401
    # The scheme in any case, and more than one space after it (RFC 9110 §11.4), are the same.
    for header in ("bEARER " + token, "Bearer   " + token):
        assert requests.get(s.url("/metrics"), headers={"Authorization": header}).status_code == 200

    def requested():
        text = requests.get(s.url("/metrics"), headers={"Authorization": "Bearer " + token}).text
        line = [l for l in text.splitlines()
                if l.startswith('gatehouse_email_flows_total{flow="password_reset",outcome="requested"}')]
        return float(line[0].split()[-1])

    new_user(s, "mona")
    before = requested()
    assert_accepted(forgot(s, "nobody-here@example.com"), FORGOT_BODY)
    assert requested() == before + 1  # an unknown address counts like a known one
    assert_accepted(forgot(s, "mona@example.com"), FORGOT_BODY)
    assert requested() == before + 2
    assert token not in s.cli("config").stdout


def test_an_address_cannot_be_bombed_through_email_changes_of_many_accounts(make_server, smtp_sink):
    """EMAIL_RATE_LIMIT counts per recipient for email changes too (shared with forgot): fresh
    accounts asking to move to one victim address meet the limit."""
    s = mail_server(make_server, smtp_sink, {"EMAIL_RATE_LIMIT": "2/hour"})
    answers = []
    for i in range(3):
        new_user(s, f"bomber{i}")
        access = auth(login_pair(s, f"bomber{i}")["access_token"])
        answers.append(change_email(s, access, "Target@Example.com").status_code)
    assert answers == [202, 202, 429], answers
    assert forgot(s, "target@example.com").status_code == 429  # the same recipient's budget
    time.sleep(1)
    assert len(mails_to(smtp_sink, "target@example.com")) == 2


def _to_mailbox(sink, local, domain="example.com"):
    """The messages to any spelling of local@domain that reaches one mailbox: any case, a "+tag",
    and at Gmail dots in the local part."""
    def mailbox(address):
        name, _, at = address.lower().rpartition("@")
        name = name.split("+", 1)[0]
        return (name.replace(".", "") if at in ("gmail.com", "googlemail.com") else name) + "@" + at
    return [m for m in sink.messages if any(mailbox(a) == f"{local}@{domain}" for a in recipients(m))]


def test_one_mailbox_has_one_mail_budget_however_its_address_is_spelled(make_server, smtp_sink):
    """Found by an outside attack: EMAIL_RATE_LIMIT counted each spelling of an address apart, so
    fresh accounts moving to "victim+1@", "v.ictim@"... (or registering them) bombed one mailbox.
    The budget is the mailbox's: subaddresses, case and, at Gmail, dots count together, for email
    changes, registrations' verification mails (429 over it, no account made) and forgot.
    Elsewhere a dotted spelling is another mailbox (an outside attack, stop 60: its notices spent
    the owner's count unseen)."""
    s = mail_server(make_server, smtp_sink, {"EMAIL_RATE_LIMIT": "2/hour", "EMAIL_VERIFICATION": "optional"})
    answers = []
    for i, spelling in enumerate(["victim+1@gmail.com", "V.ictim@GMail.com", "vic.tim+zz@gmail.com"]):
        new_user(s, f"spell{i}")
        access = auth(login_pair(s, f"spell{i}")["access_token"])
        answers.append(change_email(s, access, spelling).status_code)
    assert answers == [202, 202, 429], answers
    assert forgot(s, "victim@gmail.com").status_code == 429  # the same mailbox's budget
    assert_accepted(forgot(s, "v.ictim@example.com"), FORGOT_BODY)  # another mailbox there
    # Registrations: a refused one (its name taken) spends nothing (found by a review); over the
    # budget, 429 and no account, never an account told of a link that was not sent.
    r = s.register("target+0@gmail.com", "spell0", PASSWORD)
    assert r.status_code == 409, r.text
    for i, spelling in enumerate(["target+1@gmail.com", "t.arget@gmail.com"]):
        r = s.register(spelling, f"target{i}", PASSWORD)
        assert r.status_code == 201, r.text
    assert_too_many(s.register("Target+x@gmail.com", "target2", PASSWORD))
    assert s.login("target2").status_code == 401  # not made
    # Registrations count apart from forgot: resets asked for spellings of an address cannot keep
    # its owner from signing up (a second review).
    for spelling in ("alice+a@example.com", "Alice+b@example.com"):
        assert_accepted(forgot(s, spelling), FORGOT_BODY)
    assert s.register("alice@example.com", "alice", PASSWORD).status_code == 201
    time.sleep(1)
    assert len(_to_mailbox(smtp_sink, "victim", "gmail.com")) == 2, [recipients(m) for m in smtp_sink.messages]
    assert len(_to_mailbox(smtp_sink, "target", "gmail.com")) == 2, [recipients(m) for m in smtp_sink.messages]


def test_accounts_at_spellings_of_a_mailbox_share_its_budget_for_verification_mails(make_server, smtp_sink):
    """Found by an outside attack: accounts registered at "victim+0@", "victim+1@"... (nobody
    proves them with EMAIL_VERIFICATION off) each asked for verification mails on a budget of their
    own, and fifteen reached one mailbox in a minute; an email change's notice to each old address
    likewise. While an account's address is unverified, both spend its mailbox's budget."""
    s = mail_server(make_server, smtp_sink, {"EMAIL_RATE_LIMIT": "3/hour", "EMAIL_VERIFICATION": "off"})
    tokens = []
    for i in range(3):
        new_user(s, f"bomb{i}", f"victim+{i}@example.com")
        tokens.append(auth(login_pair(s, f"bomb{i}")["access_token"]))
    answers = [request_verification(s, t).status_code for t in tokens for _ in range(2)]
    assert answers == [202, 202, 202, 429, 429, 429], answers
    # The budget is the mailbox's: a notice of an email change to the old address is held too.
    assert change_email(s, tokens[1], "elsewhere@example.net").status_code == 429
    # It is not forgot's: anyone's forgot requests for an unverified owner's address never keep
    # the owner from verifying it (a review).
    new_user(s, "owner", "owner@example.com")
    owner = auth(login_pair(s, "owner")["access_token"])
    assert [forgot(s, "owner@example.com").status_code for _ in range(4)] == [202, 202, 202, 429]
    assert request_verification(s, owner).status_code == 202
    # Another mailbox's accounts are not held by it; a verified owner's requests are not counted
    # on the mailbox (verify/request answers 409 for them anyway).
    new_user(s, "other", "other@example.com")
    assert request_verification(s, auth(login_pair(s, "other")["access_token"])).status_code == 202
    wait_mail(smtp_sink, "owner@example.com", count=4)
    wait_mail(smtp_sink, "other@example.com")
    assert len(_to_mailbox(smtp_sink, "victim")) == 3, [recipients(m) for m in smtp_sink.messages]


def _change_password(s, name, old, new):
    token = login_pair(s, name, old)["access_token"]
    r = requests.post(api(s, "/auth/password"), json={"current_password": old, "new_password": new},
                      headers=auth(token))
    assert r.status_code == 200, r.text


def _password_notices(sink, address):
    return [m for m in mails_to(sink, address) if "password was changed" in str(m["Subject"]).lower()]


def test_an_account_at_another_spelling_cannot_silence_the_owners_notices(make_server, smtp_sink):
    """Found by a review of the mailbox budget: notices counted per mailbox let an account at
    "john+jay@" (a "j.ohn@" at Gmail) spend the budget with its own password changes, and the owner's "password changed"
    notice (a thief's change) was held back. A verified owner's notices count per address alone."""
    s = mail_server(make_server, smtp_sink, {"EMAIL_RATE_LIMIT": "2/hour", "EMAIL_VERIFICATION": "optional"})
    new_user(s, "john")
    _, token = link_in(wait_mail(smtp_sink, "john@example.com")[0], s.base + "/ui/verify-email")
    assert verify_email(s, token).status_code == 200
    new_user(s, "jay", "john+jay@example.com")
    for old, new in ((PASSWORD, NEW_PASSWORD), (NEW_PASSWORD, PASSWORD), (PASSWORD, NEW_PASSWORD)):
        _change_password(s, "jay", old, new)
    _change_password(s, "john", PASSWORD, NEW_PASSWORD)
    wait_mail(smtp_sink, "john@example.com", count=2)
    assert len(_password_notices(smtp_sink, "john@example.com")) == 1
    assert len(_password_notices(smtp_sink, "john+jay@example.com")) == 2  # its own budget held the third


def test_accounts_at_spellings_of_one_mailbox_cannot_bomb_it_with_notices(make_server, smtp_sink):
    """Found by a second review: with notices counted per address alone, fresh accounts at
    "victim+1@", "victim+2@"... (nobody verifies under EMAIL_VERIFICATION=off) each had a budget,
    and changing their passwords sent eight notices to one mailbox against a limit of two.
    Notices to an unverified address also count per mailbox."""
    s = mail_server(make_server, smtp_sink, {"EMAIL_RATE_LIMIT": "2/hour"})
    for i in range(4):
        new_user(s, f"tagged{i}", f"victim+{i}@example.com")
        _change_password(s, f"tagged{i}", PASSWORD, NEW_PASSWORD)
    time.sleep(1)
    notices = [m for m in _to_mailbox(smtp_sink, "victim") if "password was changed" in str(m["Subject"]).lower()]
    assert len(notices) == 2, [recipients(m) for m in notices]
    assert "the password-changed notice is not sent: EMAIL_RATE_LIMIT" in s.log_text()


def test_notices_to_unverified_addresses_are_limited_per_client_address(make_server, smtp_sink):
    """A review of the verification requests' limit: every account one address registered could
    still send each kind of notice, five an hour, to an address of its choosing (about 6,000
    mails an hour from one address). While the address is unverified, a notice after the first of
    its kind to it also counts per client address of the request that caused it, every kind on
    one count, counted first; the change is made all the same. The first of each kind counts on a
    budget of its own, eight times that (a second review: a thief spending the one count first
    silenced the owner). Another client is not affected."""
    s = mail_server(make_server, smtp_sink, {"EMAIL_IP_RATE_LIMIT": "2/hour", "TRUSTED_PROXIES": "127.0.0.1"})
    one, two = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2"}

    def change(name, via, old, new):
        token = login_pair(s, name, old)["access_token"]
        r = requests.post(api(s, "/auth/password"), json={"current_password": old, "new_password": new},
                          headers={**auth(token), **via})
        assert r.status_code == 200, r.text  # made, told or not

    for i in range(3):  # two changes each: the first on the firsts' budget, the second on the count
        new_user(s, f"noisy{i}", f"target{i}@example.net")
        change(f"noisy{i}", one, PASSWORD, NEW_PASSWORD)
        change(f"noisy{i}", one, NEW_PASSWORD, "Th1rd-Passw0rd!")
    new_user(s, "elsewhere", "target3@example.net")
    change("elsewhere", two, PASSWORD, NEW_PASSWORD)
    change("elsewhere", two, NEW_PASSWORD, "Th1rd-Passw0rd!")
    deadline = time.monotonic() + MAIL_WAIT
    while len(_password_notices(smtp_sink, "target3@example.net")) < 2:  # the last ones queued
        assert time.monotonic() < deadline, "the other client's notices never came"
        time.sleep(0.05)
    time.sleep(1)
    told = [len(_password_notices(smtp_sink, f"target{i}@example.net")) for i in range(4)]
    assert told == [2, 2, 1, 2], told
    assert "the password-changed notice is not sent: EMAIL_RATE_LIMIT or EMAIL_IP_RATE_LIMIT" in s.log_text()


def _limited_per_client_address(make_server, sink, prefix, ask):
    """Three accounts made from one address each `ask` (access headers with the address): two
    answered 202, the third 429 (EMAIL_IP_RATE_LIMIT 2/hour); another client is not affected, and
    forgot-password counts apart. The server, for more."""
    s = mail_server(make_server, sink, {"EMAIL_IP_RATE_LIMIT": "2/hour", "TRUSTED_PROXIES": "127.0.0.1"})
    one, two = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2"}
    answers = []
    for i in range(3):
        new_user(s, f"{prefix}{i}")
        access = auth(login_pair(s, f"{prefix}{i}")["access_token"])
        answers.append(ask(s, {**access, **one}, i).status_code)
    assert answers == [202, 202, 429], answers
    assert ask(s, {**access, **two}, 3).status_code == 202
    assert_accepted(forgot(s, f"{prefix}0@example.com", one), FORGOT_BODY)  # forgot counts apart
    return s, one


def test_email_changes_are_limited_per_client_address(make_server, smtp_sink):
    """EMAIL_IP_RATE_LIMIT counts email changes per client address too (on a counter apart from
    forgot's): accounts made from one address cannot spread a bombing over many spellings or
    mailboxes; another client (behind the trusted proxy) is not affected."""
    _limited_per_client_address(make_server, smtp_sink, "mover",
                                lambda s, headers, i: change_email(s, headers, f"elsewhere{i}@example.net"))


def test_verification_requests_are_limited_per_client_address(make_server, smtp_sink):
    """An outside attack: verification requests counted per account and mailbox only, so every
    account registered from one address sent five mails an hour more to an address of its
    choosing, the mail volume growing with the accounts. EMAIL_IP_RATE_LIMIT counts them per
    client address too, on a counter of their own, through the API and the page alike."""
    s, one = _limited_per_client_address(make_server, smtp_sink, "asker",
                                         lambda s, headers, i: request_verification(s, headers))
    assert change_email(s, {**auth(login_pair(s, "asker0")["access_token"]), **one},
                        "moved@example.net").status_code != 429  # so do changes
    # The page's form is the same route: its count is the address's.
    from test_pages import csrf_in, signed_in
    browser = signed_in(s, "asker0", xff="198.51.100.1")
    r = browser.post("/ui/account/email/verify", {"csrf": csrf_in(browser.get("/ui/account"))})
    assert r.status_code == 429, (r.status_code, r.text[:300])
    browser = signed_in(s, "asker0", xff="198.51.100.3")
    r = browser.post("/ui/account/email/verify", {"csrf": csrf_in(browser.get("/ui/account"))})
    assert r.status_code == 303, (r.status_code, r.text[:300])


def test_required_verification_also_stops_sessions_that_were_running(make_server, smtp_sink):
    """A session begun while verification was optional cannot refresh once it is required and the
    address is still unverified (403 Email not verified), and can again after verifying. Its API
    key, which has no expiry, is refused alike (an outside attack found it working on, and
    forward-auth passing the unverified address on to applications)."""
    s = mail_server(make_server, smtp_sink, {"EMAIL_VERIFICATION": "optional"})
    r = s.register("rita@example.com", "rita", PASSWORD)
    assert r.status_code == 201, r.text
    refresh_token = r.json()["refresh_token"]
    made = requests.post(api(s, "/api-keys"), json={"name": "ci"}, headers=auth(r.json()["access_token"]))
    assert made.status_code == 201, made.text
    key = {"X-API-Key": made.json()["key"]}
    _, token = link_in(wait_mail(smtp_sink, "rita@example.com")[0], s.base + "/ui/verify-email")
    r = s.cli("user", "create", "--email", "root@example.com", "--username", "root", "--role", "admin",
              "--password-stdin", "--email-verified", stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    s.stop()
    s.env["EMAIL_VERIFICATION"] = "required"
    s.start()
    admin = auth(login_pair(s, "root")["access_token"])

    def introspected(token):
        r = requests.post(api(s, "/auth/introspect"), data={"token": token}, headers=admin)
        assert r.status_code == 200, r.text
        return r.json()
    # As the refresh answers it (a review: introspection said active, the refresh 403).
    assert introspected(refresh_token) == {"active": False}
    r = requests.post(api(s, "/auth/refresh"), json={"refresh_token": refresh_token})
    assert (r.status_code, body_of(r)) == (403, {"detail": "Email not verified"})
    for path in ("/auth/me", "/auth/verify"):
        r = requests.get(api(s, path), headers=key)
        assert (r.status_code, body_of(r)) == (403, {"detail": "Email not verified"}), path
        assert "X-Auth-User-Email" not in r.headers
    # The seed's /external-data keeps its own message for every refused key (the contract's).
    r = requests.get(api(s, "/external-data"), headers=key)
    assert (r.status_code, body_of(r)) == (401, {"detail": "Invalid API key"})
    assert_user(verify_email(s, token), "rita@example.com", True)
    assert introspected(refresh_token)["active"] is True
    r = requests.post(api(s, "/auth/refresh"), json={"refresh_token": refresh_token})
    assert r.status_code == 200, r.text
    assert claims(r.json()["access_token"])["email_verified"] is True
    for path in ("/auth/me", "/auth/verify", "/external-data"):
        assert requests.get(api(s, path), headers=key).status_code == 200, path


def test_mail_file_is_never_written_through_a_symlink_and_is_owner_only(make_server, tmp_path):
    """MAIL_FILE holds live links: a symlink at its path stops the start, and one planted while
    the server runs is not followed (the message waits in the outbox instead); a file that
    existed with looser rights becomes 0600."""
    box = tmp_path / "mail.mbox"
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("")
    box.symlink_to(elsewhere)
    s = make_server(start=False)
    s.env.update(NO_LIMITS, GATEHOUSE_PUBLIC_URL=s.base, MAIL_FILE=str(box), **FAST_RETRIES)
    r = s.serve_to_exit()
    assert r.returncode == 1 and f"MAIL_FILE: {box} is not a regular file" in r.stderr, r.stderr
    box.unlink()
    box.write_text("")
    s = mail_server(make_server, None, {"MAIL_FILE": str(box), **FAST_RETRIES})
    box.unlink()
    box.symlink_to(elsewhere)
    new_user(s, "sym")
    assert_accepted(forgot(s, "sym@example.com"), FORGOT_BODY)
    wait_metric(s, "gatehouse_mail_messages_total", 1, event="failed")
    assert elsewhere.read_text() == ""
    box.unlink()
    box.write_text("")
    os.chmod(box, 0o644)
    wait_metric(s, "gatehouse_mail_messages_total", 1, event="sent", timeout=30)
    assert oct(os.stat(box).st_mode & 0o777) == "0o600"
    assert "sym@example.com" in box.read_text()


def test_addresses_with_comments_or_literals_are_refused(make_server, smtp_sink):
    """Parts of RFC 5322 that mail servers read differently (comments, domain literals, ':') are
    refused wherever an address is taken: they could name another mailbox."""
    s = mail_server(make_server, smtp_sink)
    for address in ("x(comment)@example.com", "x@[127.0.0.1]", "a:b@example.com"):
        assert s.register(address, "weird_" + str(abs(hash(address)) % 1000), PASSWORD).status_code == 422, address
        assert forgot(s, address).status_code == 422, address


def test_a_person_without_javascript_pastes_the_code_the_mail_shows(make_server, smtp_sink):
    """Without JavaScript the page cannot read the link's fragment: the text part shows the code
    on its own, and the form takes it pasted with stray whitespace around it."""
    s = mail_server(make_server, smtp_sink)
    new_user(s, "nojs")
    assert_accepted(forgot(s, "nojs@example.com"), FORGOT_BODY)
    msg = wait_mail(smtp_sink, "nojs@example.com")[0]
    _, token = link_in(msg, s.base + "/ui/reset-password")
    shown = text_part(msg).split("code from the email, it is:", 1)[1].split()[0]
    assert shown == token
    # A browser: the page's GET gives the form its CSRF token (bound to the cookie it sets).
    browser = requests.Session()
    page = browser.get(s.url("/ui/reset-password"))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = browser.post(s.url("/ui/reset-password"),
                     data={"token": "  " + shown + "\r\n", "new_password": NEW_PASSWORD, "csrf": csrf})
    assert r.status_code == 200, r.text
    login_pair(s, "nojs", NEW_PASSWORD)


# --- notices -----------------------------------------------------------------------------------------

def test_adding_a_passkey_tells_the_owner_by_mail(make_server, smtp_sink):
    """Found by the outside attack: a passkey planted through a stolen session signs in on its own
    and outlives a password change, and the owner heard nothing. Every passkey added now sends a
    notice to the account's address, counted against EMAIL_RATE_LIMIT per recipient on a counter
    of its own (registration does not prove the address: it may be a stranger's, whom a loop of
    passkeys added and removed must not flood; and a thief's flood of reset requests must not
    spend the budget to silence it); a refused registration sends none."""
    import webauthn_support as wa
    s = make_server(start=False)
    s.env.update(NO_LIMITS, **smtp_sink.env())
    s.env["EMAIL_RATE_LIMIT"] = "1/hour"
    origin = f"http://localhost:{s.port}"  # passkeys need a host name
    s.env["GATEHOUSE_PUBLIC_URL"] = origin
    s.start()
    address = new_user(s, "pknotice")
    # The thief spends the address's mail budget first: the reset mail goes, the next is refused.
    assert_accepted(forgot(s, address), FORGOT_BODY)
    assert_too_many(forgot(s, address))
    token = s.token("pknotice")
    options = requests.post(api(s, "/auth/webauthn/register/options"), json={}, headers=auth(token))
    assert options.status_code == 200, options.text
    authenticator = wa.Authenticator()
    made, credential = wa.Client(origin).create(authenticator, options.json()["publicKey"])
    r = requests.post(api(s, "/auth/webauthn/register"), json={"credential": made}, headers=auth(token))
    assert r.status_code == 201, r.text
    passkey_id = r.json()["id"]
    mails = wait_mail(smtp_sink, address, count=2)
    notice = [m for m in mails if "passkey" in str(m["Subject"]).lower()]
    assert len(notice) == 1, [str(m["Subject"]) for m in mails]
    assert f"{origin}/ui/account#passkeys" in text_part(notice[0])
    assert "#token=" not in text_part(notice[0]) + html_part(notice[0])
    # The same answer again is refused and queues nothing.
    again = requests.post(api(s, "/auth/webauthn/register"), json={"credential": made}, headers=auth(token))
    assert again.status_code in (400, 401), again.text
    assert mail_metric(s, "queued") == 2  # the reset mail and the one notice
    # Its removal (after a sign-in with it: step-up) is a notice of another kind, on its own
    # counter.
    import test_webauthn as twa
    s.client = wa.Client(origin)
    strong = twa.strong_token(s, types.SimpleNamespace(name="pknotice", authn=authenticator,
                                                       cred=credential))
    r = twa.delete(s, strong, passkey_id)
    assert r.status_code == 204, r.text
    removed = [m for m in wait_mail(smtp_sink, address, count=3) if "removed" in str(m["Subject"])]
    assert len(removed) == 1
    assert f'href="{origin}/ui/account"' in html.unescape(html_part(removed[0]))
    assert mail_metric(s, "queued") == 3


def test_the_command_line_tells_the_owner_as_the_api_does(make_server, smtp_sink):
    """`user reset-mfa` and `user set-password` made the same changes as an administrator's
    through the API, and the owner heard nothing. They queue the same notices now, sealed like
    the server's, which the running server sends. A reset that removed nothing sends none; a
    command whose notice cannot be queued (this node's key-encryption key does not open the
    stored keys) changes nothing."""
    import test_mfa as mfa
    s = mail_server(make_server, smtp_sink, env=mfa.NO_MFA_LIMIT)
    e = mfa.enrol(s, "clinotice")
    assert len(wait_mail(smtp_sink, e.email, count=1)) == 1  # the app's own notice
    r = s.cli("user", "reset-mfa", "--email", e.email)
    assert r.returncode == 0, r.stderr
    assert f"a notice to {e.email} is queued" in r.stdout, r.stdout
    mails = wait_mail(smtp_sink, e.email, count=2)
    assert len(mails) == 2 and "second factor was removed" in str(mails[1]["Subject"]).lower()
    assert f"{s.base}/ui/account" in text_part(mails[1]) and "#token=" not in text_part(mails[1])
    wrong_key = {**s.env, "KEY_ENCRYPTION_KEY": secrets.token_hex(32)}

    def cli(env, *args, stdin=None):
        return subprocess.run([BIN, *args], input=stdin, env=env, capture_output=True, text=True, timeout=120)

    # Nothing left to remove, nothing to tell.
    r = s.cli("user", "reset-mfa", "--email", e.email)
    assert r.returncode == 0 and "notice" not in r.stdout + r.stderr, (r.stdout, r.stderr)
    # A wrong key-encryption key: every command that changes something is refused before it
    # does (its audit records are keyed under the master secret, as its notices are sealed), the
    # old password still works. Before audit records were keyed, a reset with nothing to remove
    # passed without reading a key.
    for args, stdin in ((("user", "reset-mfa", "--email", e.email), None),
                        (("user", "set-password", "--email", e.email), NEW_PASSWORD + "\n")):
        r = cli(wrong_key, *args, stdin=stdin)
        assert r.returncode == 1, r.stdout
        assert "KEY_ENCRYPTION_KEY" in r.stderr and "nothing was changed" in r.stderr, r.stderr
    assert login_pair(s, "clinotice")["access_token"]
    r = s.cli("user", "set-password", "--email", e.email, stdin=NEW_PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert f"a notice to {e.email} is queued" in r.stdout, r.stdout
    mails = wait_mail(smtp_sink, e.email, count=3)
    assert len(mails) == 3 and "password was changed" in str(mails[2]["Subject"]).lower()
    assert f"{s.base}/ui/forgot-password" in text_part(mails[2])
    assert login_pair(s, "clinotice", NEW_PASSWORD)["access_token"]
    # A placeholder address gets no notice.
    r = s.cli("user", "create", "--email", "nobody@example.invalid", "--username", "nobody", "--password-stdin",
              stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    r = s.cli("user", "set-password", "--email", "nobody@example.invalid", stdin=NEW_PASSWORD + "\n")
    assert r.returncode == 0 and "notice" not in r.stdout + r.stderr, (r.stdout, r.stderr)
    # Without mail the commands say nothing of notices; a wrong key-encryption key still stops
    # them (the audit records' key).
    plain = make_server()
    plain.register("quiet@example.com", "quiet")
    r = plain.cli("user", "set-password", "--email", "quiet@example.com", stdin=NEW_PASSWORD + "\n")
    assert r.returncode == 0 and "notice" not in r.stdout + r.stderr, (r.stdout, r.stderr)
    r = cli({**plain.env, "KEY_ENCRYPTION_KEY": secrets.token_hex(32)}, "user", "set-password", "--email",
            "quiet@example.com", stdin=PASSWORD + "\n")
    assert r.returncode == 1 and "KEY_ENCRYPTION_KEY" in r.stderr, (r.stdout, r.stderr)


def test_the_command_line_before_the_first_start_makes_no_key(make_server, tmp_path):
    """Moving in: `user import`, then `user set-password`, before any server ran. With mail
    configured the command neither makes a key-encryption key nor stores a master secret (one
    made there, out of the operator's sight, could differ from the server's): it says no notice
    goes and sets the password."""
    s = make_server(start=False)
    s.env.update(MAIL_FILE=str(tmp_path / "mail.mbox"), SMTP_FROM="noreply@example.com")
    s.env.pop("KEY_ENCRYPTION_KEY", None)
    s.env.pop("KEY_ENCRYPTION_KEY_FILE", None)
    assert s.cli("migrate").returncode == 0
    r = s.cli("user", "create", "--email", "early@example.com", "--username", "early", "--password-stdin",
              stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    r = s.cli("user", "set-password", "--email", "early@example.com", stdin=NEW_PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert "no notice goes to early@example.com: the keys it is sealed with are made at the server's first start" \
        in r.stderr, r.stderr
    data = tmp_path / "data"
    assert not (data / "key_encryption_key").exists(), sorted(p.name for p in data.iterdir())
    rows = sqlite3.connect(data / "gatehouse.db").execute("SELECT COUNT(*) FROM key_ring").fetchone()[0]
    assert rows == 0
    s.start()
    assert login_pair(s, "early", NEW_PASSWORD)["access_token"]


def test_changes_to_the_ways_in_tell_the_owner_by_mail(make_server, smtp_sink):
    """A thief with a session (within the step-up window) could lock the owner out with an
    authenticator app of their own, weaken the account by removing its factor, or take it with a
    new password, and the owner heard nothing. Each sends a notice to the account's address now
    (a confirmed app, new recovery codes, a factor removed by its user or by an administrator's
    reset, a password changed), linking where to mend it, on a counter per kind and recipient (EMAIL_RATE_LIMIT:
    the second of a kind within the hour is held back, the change still made); a refused change
    sends none."""
    import test_mfa as mfa
    s = mail_server(make_server, smtp_sink, env={"EMAIL_RATE_LIMIT": "1/hour", **mfa.NO_MFA_LIMIT})
    queued = 0

    def notices(address, count):
        mails = wait_mail(smtp_sink, address, count=count)
        assert len(mails) == count, [str(m["Subject"]) for m in mails]
        return mails

    def assert_notice(msg, subject_words, path):
        assert subject_words in str(msg["Subject"]).lower(), str(msg["Subject"])
        assert f"{s.base}{path}" in text_part(msg)
        assert f'href="{s.base}{path}"' in html.unescape(html_part(msg))
        assert "#token=" not in text_part(msg) + html_part(msg)

    # An authenticator app confirmed.
    e = mfa.enrol(s, "notify")
    queued += 1
    assert_notice(notices(e.email, 1)[0], "authenticator app was added", "/ui/account#mfa")
    # A refused password change (the wrong current password) sends nothing.
    otp = mfa.reauthenticate(s, e.pwd_token, code=mfa.fresh_code(e.uri, after=e.step)[0])
    assert otp.status_code == 200, otp.text
    otp = otp.json()["access_token"]
    r = requests.post(api(s, "/auth/password"), json={"current_password": "Wr0ng-Passw0rd!x",
                                                       "new_password": NEW_PASSWORD}, headers=auth(otp))
    assert r.status_code == 400, r.text
    # An enrolment begun and removed unfinished was never a way in: no mail (one would also spend
    # the budget and silence the real removal below, *review*).
    unfinished = mfa.add_factor(s, otp, "never")
    assert unfinished.status_code == 201, unfinished.text
    assert mfa.delete_factor(s, otp, unfinished.json()["id"]).status_code == 204
    # New recovery codes: the owner's stop working.
    assert mfa.regenerate(s, otp).status_code == 200
    queued += 1
    assert_notice(notices(e.email, 2)[1], "new recovery codes", "/ui/account#mfa")
    # The factor removed by its user.
    r = mfa.delete_factor(s, otp, e.factor_id)
    assert r.status_code == 204, r.text
    queued += 1
    assert_notice(notices(e.email, 3)[2], "second factor was removed", "/ui/account")
    # The password changed (no factor left: the current password suffices).
    r = requests.post(api(s, "/auth/password"), json={"current_password": PASSWORD,
                                                       "new_password": NEW_PASSWORD}, headers=auth(otp))
    assert r.status_code == 200, r.text
    queued += 1
    assert_notice(notices(e.email, 4)[3], "password was changed", "/ui/forgot-password")
    # A second app within the hour: held back, and the app is active all the same.
    token = login_pair(s, "notify", NEW_PASSWORD)["access_token"]
    made = mfa.add_factor(s, token, "again")
    assert made.status_code == 201, made.text
    code, _ = mfa.fresh_code(made.json()["otpauth_uri"])
    assert mfa.confirm(s, token, made.json()["id"], code).status_code == 200
    assert me(s, token)["mfa_enabled"] is True
    assert "the totp-added notice is not sent: EMAIL_RATE_LIMIT" in s.log_text()

    # An administrator's reset tells the user whose factors it removed; of a user without one,
    # nobody (that user's one mail, below, is the next change's).
    admin = s.admin_token()
    other = mfa.enrol(s, "notify2")
    queued += 1
    r = requests.delete(api(s, f"/users/{other.user_id}/mfa"), headers=auth(admin))
    assert r.status_code == 204, r.text
    queued += 1
    assert_notice(notices(other.email, 2)[1], "second factor was removed", "/ui/account")
    plain = new_user(s, "notify3")
    plain_id = me(s, login_pair(s, "notify3")["access_token"])["id"]
    r = requests.delete(api(s, f"/users/{plain_id}/mfa"), headers=auth(admin))
    assert r.status_code == 204, r.text
    # An administrator's new password for them: they hear of it.
    r = requests.put(api(s, f"/users/{plain_id}/password"), json={"new_password": NEW_PASSWORD},
                     headers=auth(admin))
    assert r.status_code == 204, r.text
    queued += 1
    assert_notice(notices(plain, 1)[0], "password was changed", "/ui/forgot-password")
    # Queued in the request: the count is final.
    assert mail_metric(s, "queued") == queued
    assert len(mails_to(smtp_sink, e.email)) == 4
    assert len(mails_to(smtp_sink, other.email)) == 2
