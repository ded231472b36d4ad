"""Ended sessions, dead API keys and day-old changes leave the database (src/auth/retention):
every node's janitor purges them half a second after its start, then every five minutes; a purged
one answers as an ended one did, and a node that missed purged changes forgets what it cached."""
import signal
import sqlite3
import time

import requests

from conftest import auth

DAY = 86400


def test_ended_sessions_and_revoked_keys_are_purged_a_day_on_and_answer_as_before(make_server, tmp_path):
    s = make_server()
    assert s.register("ret@example.com", "retuser").status_code == 201
    ended, kept = s.login("retuser").json(), s.login("retuser").json()
    r = requests.post(s.url("/api/v1/auth/logout"), headers=auth(ended["access_token"]),
                      json={"refresh_token": ended["refresh_token"]})
    assert r.status_code == 200, r.text
    keys = [requests.post(s.url("/api/v1/api-keys"), headers=auth(kept["access_token"]), json={"name": n})
            for n in ("revoked", "live")]
    assert [k.status_code for k in keys] == [201, 201], keys[0].text
    revoked_key, live_key = keys[0].json(), keys[1].json()
    assert requests.delete(s.url(f"/api/v1/api-keys/{revoked_key['id']}"),
                           headers=auth(kept["access_token"])).status_code == 204
    refused = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": ended["refresh_token"]})
    assert refused.status_code == 401
    s.stop()

    # Three days pass for every row: the ended session and the revoked key are past their day, the
    # live session (unused as long, its refresh token good for seven days) and key are not.
    db = sqlite3.connect(tmp_path / "data" / "gatehouse.db")
    with db:
        db.execute("UPDATE sessions SET created_at = created_at - ?, last_used_at = last_used_at - ?",
                   (3 * DAY, 3 * DAY))
        db.execute("UPDATE api_keys SET created_at = created_at - ?", (3 * DAY,))
        db.execute("UPDATE api_key_changes SET at = at - ?", (3 * DAY,))
        db.execute("UPDATE user_changes SET at = at - ?", (3 * DAY,))
    change_rows = sum(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                      for t in ("user_changes", "api_key_changes"))
    assert change_rows >= 1  # the revocation
    ended_rows = db.execute("SELECT COUNT(*) FROM sessions WHERE revoked = 1").fetchone()[0]
    live_rows = db.execute("SELECT COUNT(*) FROM sessions WHERE revoked = 0").fetchone()[0]
    assert ended_rows >= 1 and live_rows >= 1
    db.close()

    s.start()
    line = (f"purged {ended_rows} ended sessions, 1 revoked or expired API keys "
            f"and {change_rows} change-log rows")
    deadline = time.monotonic() + 15
    while line not in s.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert line in s.log_text(), s.log_text()[-2000:]
    db = sqlite3.connect(tmp_path / "data" / "gatehouse.db")
    assert db.execute("SELECT COUNT(*) FROM sessions WHERE revoked = 1").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == live_rows
    assert [r[0] for r in db.execute("SELECT id FROM api_keys")] == [live_key["id"]]
    # What is left of the logs is the purge's own deletion of the key, a change of today.
    assert db.execute("SELECT COUNT(*) FROM user_changes").fetchone()[0] == 0
    assert [r[0] for r in db.execute("SELECT key_id FROM api_key_changes")] == [revoked_key["id"]]
    db.close()

    # Purged: refused exactly as when it was ended; the revoked key too; the live ones work.
    again = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": ended["refresh_token"]})
    assert (again.status_code, again.json()) == (refused.status_code, refused.json())
    assert requests.get(s.url("/api/v1/auth/me"), headers={"X-API-Key": revoked_key["key"]}).status_code == 401
    assert requests.get(s.url("/api/v1/auth/me"), headers={"X-API-Key": live_key["key"]}).status_code == 200
    assert requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": kept["refresh_token"]}).status_code == 200


def test_a_node_that_missed_purged_changes_forgets_the_user_and_key_it_cached(make_server, tmp_path):
    """Two nodes on one database. Node B stops reading (SIGSTOP: a node whose database reads fail
    for a day) with a user and an API key cached; meanwhile a user is deactivated and the key
    revoked, and their changes are purged a day on. Once B runs again it must answer 403 and 401:
    without the log's horizon it would hear nothing and serve both from memory for ever."""
    a = make_server()
    b = make_server()
    admin = a.admin_token()
    assert a.register("gone@example.com", "goneuser").status_code == 201
    assert a.register("keep@example.com", "keepuser").status_code == 201
    gone = a.token("goneuser")
    key = requests.post(a.url("/api/v1/api-keys"), headers=auth(a.token("keepuser")), json={"name": "k"})
    assert key.status_code == 201, key.text
    key = key.json()
    gone_id = requests.get(b.url("/api/v1/auth/me"), headers=auth(gone)).json()["id"]
    # B caches both (its second answers come from memory).
    for _ in range(2):
        assert requests.get(b.url("/api/v1/auth/me"), headers=auth(gone)).status_code == 200
        assert requests.get(b.url("/api/v1/auth/me"), headers={"X-API-Key": key["key"]}).status_code == 200
    time.sleep(1.5)  # B's after-response writes (the key's last use) are done
    b.proc.send_signal(signal.SIGSTOP)
    try:
        r = requests.patch(a.url(f"/api/v1/users/{gone_id}"), json={"is_active": False}, headers=auth(admin))
        assert r.status_code == 200, r.text
        assert requests.delete(a.url(f"/api/v1/api-keys/{key['id']}"),
                               headers=auth(a.token("keepuser"))).status_code == 204
        db = sqlite3.connect(tmp_path / "data" / "gatehouse.db")
        with db:
            for table in ("user_changes", "api_key_changes"):
                db.execute(f"UPDATE {table} SET at = at - ?", (2 * DAY,))
        db.close()
        a.stop()
        a.start()  # its janitor's first pass purges them
        deadline = time.monotonic() + 15
        while "change-log rows" not in a.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "change-log rows" in a.log_text(), a.log_text()[-2000:]
    finally:
        b.proc.send_signal(signal.SIGCONT)
    expected = (403, 401)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = (requests.get(b.url("/api/v1/auth/me"), headers=auth(gone)).status_code,
               requests.get(b.url("/api/v1/auth/me"), headers={"X-API-Key": key["key"]}).status_code)
        if got == expected:
            break
        time.sleep(0.2)
    assert got == expected, b.log_text()[-2000:]
