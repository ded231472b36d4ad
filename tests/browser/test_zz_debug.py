from .test_pages import *
from .support import console_entries, csp_violations

def test_debug_sessions(make_server, browser, look):
    server = gate(make_server)
    new_user(server, "traveller")
    pair = api_login(server, "traveller", user_agent="journey-api-client/1.0")
    print(jwt.decode(pair["access_token"], options={"verify_signature": False}))
    other = requests.Session()
    other.headers["User-Agent"] = "journey-other-browser/1.0"
    portal_sign_in(other, server, "traveller")
    sign_in(browser, look, server, "traveller")
    print(by_id(browser, "sessions-table").get_attribute("outerHTML"))
    r = requests.get(server.url("/api/v1/auth/sessions"), headers=bearer(pair["access_token"]))
    print(r.status_code, r.text)

def test_debug_audit(make_server, browser, look):
    server = gate(make_server)
    new_user(server, "root", ADMIN_PASSWORD, role="admin")
    new_user(server, "deputy", role="moderator")
    tok = api_login(server, "root", ADMIN_PASSWORD)["access_token"]
    users = requests.get(server.url("/api/v1/users"), headers=bearer(tok)).json()
    did = [u for u in users["items"] if u["username"] == "deputy"][0]["id"]
    print(requests.put(server.url(f"/api/v1/users/{did}/role"), json={"role": "user"}, headers=bearer(tok)).text)
    r = requests.get(server.url("/api/v1/audit-events"), params={"type": "user.role_changed"}, headers=bearer(tok))
    print(r.text)
    r = requests.get(server.url("/api/v1/audit-events"), params={"type": "user.role_changed", "user_id": did}, headers=bearer(tok))
    print(r.text)
