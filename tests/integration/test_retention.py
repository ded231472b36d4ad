"""Ended sessions and dead API keys leave the database (src/auth/retention): every node's janitor
purges them half a second after its start, then every five minutes, and a purged one answers as
an ended one did."""
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
    ended_rows = db.execute("SELECT COUNT(*) FROM sessions WHERE revoked = 1").fetchone()[0]
    live_rows = db.execute("SELECT COUNT(*) FROM sessions WHERE revoked = 0").fetchone()[0]
    assert ended_rows >= 1 and live_rows >= 1
    db.close()

    s.start()
    line = f"purged {ended_rows} ended sessions and 1 revoked or expired API keys"
    deadline = time.monotonic() + 15
    while line not in s.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert line in s.log_text(), s.log_text()[-2000:]
    db = sqlite3.connect(tmp_path / "data" / "gatehouse.db")
    assert db.execute("SELECT COUNT(*) FROM sessions WHERE revoked = 1").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == live_rows
    assert [r[0] for r in db.execute("SELECT id FROM api_keys")] == [live_key["id"]]
    db.close()

    # Purged: refused exactly as when it was ended; the revoked key too; the live ones work.
    again = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": ended["refresh_token"]})
    assert (again.status_code, again.json()) == (refused.status_code, refused.json())
    assert requests.get(s.url("/api/v1/auth/me"), headers={"X-API-Key": revoked_key["key"]}).status_code == 401
    assert requests.get(s.url("/api/v1/auth/me"), headers={"X-API-Key": live_key["key"]}).status_code == 200
    assert requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": kept["refresh_token"]}).status_code == 200
