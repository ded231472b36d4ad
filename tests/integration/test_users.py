"""The Users section of API.md: role-based access to /api/v1/users."""
import jwt
import requests

from conftest import SECRET, auth


def uid_of(token):
    return int(jwt.decode(token, SECRET, algorithms=["HS256"])["sub"])


def test_list_and_pagination(server):
    admin = server.admin_token()
    for i in range(5):
        server.register(f"u{i}@example.com", f"user{i}")
    user = server.token("user0")
    r = requests.get(server.url("/api/v1/users"), headers=auth(user))  # users:read
    assert r.status_code == 200
    assert r.json()["total"] == 6 and len(r.json()["items"]) == 6
    r = requests.get(server.url("/api/v1/users?limit=2&offset=1"), headers=auth(admin))
    page = r.json()
    assert page["total"] == 6 and [u["username"] for u in page["items"]] == ["user0", "user1"]
    for q in ("limit=0", "limit=abc", "offset=-1", "limit=1001"):
        assert requests.get(server.url("/api/v1/users?" + q), headers=auth(admin)).status_code == 422, q
    assert requests.get(server.url("/api/v1/users")).status_code == 401
    for u in page["items"]:
        assert "password" not in str(u) and "hash" not in str(u)


def test_get_user(server):
    admin = server.admin_token()
    server.register("v@example.com", "vic")
    vic = server.token("vic")
    r = requests.get(server.url(f"/api/v1/users/{uid_of(vic)}"), headers=auth(admin))
    assert r.status_code == 200 and r.json()["username"] == "vic"
    r = requests.get(server.url("/api/v1/users/9999"), headers=auth(admin))
    assert (r.status_code, r.json()) == (404, {"detail": "User not found"})
    assert requests.get(server.url("/api/v1/users/abc"), headers=auth(admin)).status_code == 422


def test_patch_needs_users_write(server):
    admin = server.admin_token()
    server.register("w@example.com", "wes")
    wes = server.token("wes")
    target = uid_of(wes)
    r = requests.patch(server.url(f"/api/v1/users/{target}"), json={"username": "wesley"}, headers=auth(wes))
    assert (r.status_code, r.json()) == (403, {"detail": "Insufficient permissions"})
    r = requests.patch(server.url(f"/api/v1/users/{target}"),
                       json={"username": "wesley", "email": "wesley@example.com"}, headers=auth(admin))
    assert r.status_code == 200 and r.json()["username"] == "wesley" and r.json()["email"] == "wesley@example.com"
    r = requests.patch(server.url(f"/api/v1/users/{target}"), json={"email": "root@example.com"}, headers=auth(admin))
    assert (r.status_code, r.json()) == (409, {"detail": "Email already registered"})
    r = requests.patch(server.url(f"/api/v1/users/{target}"), json={"username": "root"}, headers=auth(admin))
    assert (r.status_code, r.json()) == (409, {"detail": "Username already taken"})
    r = requests.patch(server.url(f"/api/v1/users/{target}"), json={"email": "nope"}, headers=auth(admin))
    assert r.status_code == 422
    r = requests.patch(server.url(f"/api/v1/users/{target}"), json={"is_active": "yes"}, headers=auth(admin))
    assert r.status_code == 422
    r = requests.patch(server.url("/api/v1/users/424242"), json={"username": "ghost"}, headers=auth(admin))
    assert (r.status_code, r.json()) == (404, {"detail": "User not found"})


def test_moderator_can_write_but_not_delete(server):
    admin = server.admin_token()
    server.register("mo@example.com", "mod")
    server.register("x@example.com", "xena")
    mod_id = uid_of(server.token("mod"))
    x_id = uid_of(server.token("xena"))
    r = requests.put(server.url(f"/api/v1/users/{mod_id}/role"), json={"role": "moderator"}, headers=auth(admin))
    assert r.status_code == 200 and r.json()["role"] == "moderator"
    mod = server.token("mod")
    assert requests.patch(server.url(f"/api/v1/users/{x_id}"), json={"username": "xen"},
                          headers=auth(mod)).status_code == 200
    r = requests.delete(server.url(f"/api/v1/users/{x_id}"), headers=auth(mod))
    assert (r.status_code, r.json()) == (403, {"detail": "Insufficient permissions"})


def test_refused_changes_above_ones_rights_are_counted_per_caller(make_server):
    """Found by an outside attack: a moderator's API key looped PATCH on an administrator, each
    403 writing a user.change_refused record that is kept (600 a second). Refusals count against
    REFUSED_CHANGE_RATE_LIMIT per calling account (its keys and tokens together): past it 429,
    unaudited but for one rate_limited record; changes within the caller's rights never count,
    and another caller's budget is its own."""
    s = make_server({"REFUSED_CHANGE_RATE_LIMIT": "3/hour"})
    admin = s.admin_token()
    admin_id = uid_of(admin)
    ids = {}
    for name in ("mod", "mod2", "target"):
        assert s.register(f"{name}@example.com", name).status_code == 201
        ids[name] = uid_of(s.token(name))
    for name in ("mod", "mod2"):
        r = requests.put(s.url(f"/api/v1/users/{ids[name]}/role"), json={"role": "moderator"}, headers=auth(admin))
        assert r.status_code == 200, r.text
    mod = s.token("mod")
    key = requests.post(s.url("/api/v1/api-keys"), json={"name": "k"}, headers=auth(mod))
    assert key.status_code == 201, key.text
    by_key = {"X-API-Key": key.json()["key"]}

    def refused_records():
        r = requests.get(s.url("/api/v1/audit-events"), params={"type": "user.change_refused", "limit": 1000},
                         headers=auth(admin))
        assert r.status_code == 200, r.text
        return r.json()["items"]

    answers = [requests.patch(s.url(f"/api/v1/users/{admin_id}"), json={"username": "x" * 8}, headers=by_key)]
    # A factor reset above one's rights counts and is audited too (an outside attack: neither).
    answers.append(requests.delete(s.url(f"/api/v1/users/{admin_id}/mfa"), headers=auth(mod)))
    answers.append(requests.delete(s.url(f"/api/v1/users/{admin_id}/sessions"), headers=auth(mod)))
    assert [r.status_code for r in answers] == [403, 403, 403], [r.text for r in answers]
    for attempt in (lambda: requests.patch(s.url(f"/api/v1/users/{admin_id}"), json={"username": "yyyy"},
                                           headers=auth(mod)),
                    lambda: requests.patch(s.url(f"/api/v1/users/{admin_id}"), json={"is_active": False},
                                           headers=by_key)):
        r = attempt()
        assert (r.status_code, r.json()) == (429, {"detail": "Too many requests"}), r.text
        assert int(r.headers["Retry-After"]) > 0
    assert len(refused_records()) == 3
    r = requests.get(s.url("/api/v1/audit-events"), params={"type": "rate_limited"}, headers=auth(admin))
    assert [e["detail"]["endpoint"] for e in r.json()["items"]] == ["refused-change"], r.text
    # Within its rights the moderator still works; another moderator's budget is untouched.
    r = requests.patch(s.url(f"/api/v1/users/{ids['target']}"), json={"username": "target2"}, headers=by_key)
    assert r.status_code == 200, r.text
    r = requests.patch(s.url(f"/api/v1/users/{admin_id}"), json={"username": "zzzz"}, headers=auth(s.token("mod2")))
    assert r.status_code == 403, r.text
    assert len(refused_records()) == 4


def test_delete_user(server):
    admin = server.admin_token()
    server.register("y@example.com", "yan")
    yan = server.token("yan")
    r = requests.delete(server.url(f"/api/v1/users/{uid_of(yan)}"), headers=auth(admin))
    assert r.status_code == 204 and r.content == b""
    assert requests.delete(server.url(f"/api/v1/users/{uid_of(yan)}"), headers=auth(admin)).status_code == 404
    # The deleted user's live token is refused on the next request.
    assert requests.get(server.url("/api/v1/auth/me"), headers=auth(yan)).status_code == 401


def test_set_role(server):
    admin = server.admin_token()
    server.register("z@example.com", "zed")
    zed = uid_of(server.token("zed"))
    r = requests.put(server.url(f"/api/v1/users/{zed}/role"), json={"role": "emperor"}, headers=auth(admin))
    assert r.status_code == 422
    r = requests.put(server.url("/api/v1/users/77777/role"), json={"role": "user"}, headers=auth(admin))
    assert (r.status_code, r.json()) == (404, {"detail": "User not found"})
    user = server.token("zed")
    r = requests.put(server.url(f"/api/v1/users/{zed}/role"), json={"role": "admin"}, headers=auth(user))
    assert r.status_code == 403


def test_last_admin_is_protected(server):
    admin = server.admin_token()
    me = uid_of(admin)
    # An administrator's routes never act on the caller's own account, whoever else is left: a
    # stolen session must not delete, demote or deactivate its owner (the CLI keeps the last
    # admin, test_server.py).
    r = requests.delete(server.url(f"/api/v1/users/{me}"), headers=auth(admin))
    assert r.status_code == 403, r.text
    r = requests.put(server.url(f"/api/v1/users/{me}/role"), json={"role": "user"}, headers=auth(admin))
    assert r.status_code == 403, r.text
    r = requests.patch(server.url(f"/api/v1/users/{me}"), json={"is_active": False}, headers=auth(admin))
    assert r.status_code == 403, r.text
    # With a second admin, the first steps down through the second.
    server.register("second@example.com", "second")
    other = uid_of(server.token("second"))
    assert requests.put(server.url(f"/api/v1/users/{other}/role"), json={"role": "admin"},
                        headers=auth(admin)).status_code == 200
    second = server.token("second")
    assert requests.put(server.url(f"/api/v1/users/{me}/role"), json={"role": "user"},
                        headers=auth(second)).status_code == 200
    assert requests.get(server.url(f"/api/v1/users/{me}"), headers=auth(second)).json()["role"] == "user"


def test_demotion_takes_effect_on_live_token(server):
    admin = server.admin_token()
    server.register("pro@example.com", "pro")
    pro_id = uid_of(server.token("pro"))
    requests.put(server.url(f"/api/v1/users/{pro_id}/role"), json={"role": "admin"}, headers=auth(admin))
    pro = server.token("pro")  # token scopes: every permission
    assert requests.delete(server.url("/api/v1/users/99999"), headers=auth(pro)).status_code == 404
    requests.put(server.url(f"/api/v1/users/{pro_id}/role"), json={"role": "user"}, headers=auth(admin))
    # Same token, same scopes: the current role no longer grants users:delete.
    r = requests.delete(server.url("/api/v1/users/99999"), headers=auth(pro))
    assert (r.status_code, r.json()) == (403, {"detail": "Insufficient permissions"})


def test_token_scopes_limit_an_admin(server):
    server.admin_token()
    narrow = server.login("root@example.com", "Adm1n-Passw0rd!", scope="users:read").json()["access_token"]
    assert requests.get(server.url("/api/v1/users"), headers=auth(narrow)).status_code == 200
    r = requests.delete(server.url("/api/v1/users/12345"), headers=auth(narrow))
    assert r.status_code == 403


def test_the_audit_log_pages_back_past_a_flood_of_harmless_changes(server):
    """An outside attack: a moderator changed a victim's email, then renamed the victim a thousand
    times; every query's newest 1000 matches held the renames only, and nothing reached older
    records. `before` (the last item's id) pages back; a bad one is a 422."""
    admin = server.admin_token()
    server.register("buried@example.com", "buried")
    events = requests.get(server.url("/api/v1/audit-events"), params={"limit": 1}, headers=auth(admin)).json()
    newest = events["items"][0]["id"]
    for _ in range(5):
        server.register(f"later{newest}{_}@example.com", f"later{newest}{_}")
    seen, before = [], None
    for _ in range(500):  # a server ignoring `before` would answer the first page forever
        params = {"limit": 2, **({"before": before} if before else {})}
        r = requests.get(server.url("/api/v1/audit-events"), params=params, headers=auth(admin))
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        seen += [e["id"] for e in items]
        if len(items) < 2:
            break
        before = items[-1]["id"]
    else:
        raise AssertionError(f"no last page: {seen[:10]}")
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)), seen
    assert newest in seen and seen[-1] == 1, seen  # every record, the first included
    for bad in ("0", "-1", "x", "1.5"):
        r = requests.get(server.url("/api/v1/audit-events"), params={"before": bad}, headers=auth(admin))
        assert r.status_code == 422, (bad, r.text)
