// The admin console (API.md, Pages for people): users (search, pages, role, active flag, second
// factor reset, sessions, password), the audit log with filters and the analytics summary as a
// chart, for users holding users:write or analytics:view. Every section shows what the viewer may
// do; every form runs the API route's handler under its own rules (pages::addForm).
#include <chrono>
#include <map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/body.hpp"
#include "api/handlers.hpp"
#include "api/page_support.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "core/uri_path.hpp"
#include "rbac/policy.hpp"
#include "ui/chart.hpp"
#include "ui/pages.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;
using http::Lane;
using pages::html;

constexpr std::int64_t kPageSize = 25;

bool holds(const auth::Principal& who, std::string_view permission) {
  return std::find(who.permissions.begin(), who.permissions.end(), permission) !=
         who.permissions.end();
}

constexpr std::pair<std::string_view, std::string_view> kDone[] = {
    {"role", "The role has changed."},
    {"active", "The account's state has changed."},
    {"mfa-reset", "Every second factor of the user was removed."},
    {"sessions-ended", "Every session of the user has ended."},
    {"password", "The password was set; the user's sessions have ended."},
};

std::string yesNo(bool v) { return v ? "yes" : "no"; }

http::Response consolePage(Call& c, std::string_view title, const std::string& body, int status) {
  const auto token = pages::formToken(c);
  const ui::Viewer viewer = pages::viewerOf(c, token);
  return html(c.services, status, ui::page(c.services.brand_name, title, body, &viewer));
}

std::string usersSection(Call& c, std::string& error) {
  const std::string q = c.request.queryParam("q").value_or("");
  std::vector<auth::FieldError> errors;
  const auto page = queryInteger(c.request, "page", 1, 100000, 1, errors);
  if (!errors.empty() || q.size() > 254) {
    error = "The search is not valid.";
    return {};
  }
  auto users = c.services.store.users().search(q, kPageSize + 1, (*page - 1) * kPageSize);
  if (!users) {
    error = pages::refusalText(auth::storeFailure(users.error()), c.request);
    return {};
  }
  const bool more = static_cast<std::int64_t>(users->size()) > kPageSize;
  if (more) users->pop_back();
  std::string out =
      "<form method=\"get\" action=\"/ui/admin\" id=\"user-search-form\" role=\"search\">"
      "<label for=\"q\">Find users by email or username</label><input id=\"q\" name=\"q\" "
      "type=\"search\" maxlength=\"254\" value=\"" +
      ui::esc(q) + "\"><button type=\"submit\">Search</button></form>\n";
  out +=
      "<div class=\"table\"><table id=\"users-table\"><thead><tr><th>Email</th><th>Username"
      "</th><th>Role</th><th>Active</th><th>Second factor</th><th>Verified</th><th></th></tr>"
      "</thead><tbody>\n";
  for (const auto& u : *users) {
    out += "<tr data-user-id=\"" + std::to_string(u.id) + "\"><td>" + ui::esc(u.email) +
           "</td><td>" + ui::esc(u.username) + "</td><td>" + ui::esc(u.role) + "</td><td>" +
           yesNo(u.is_active) + "</td><td>" + yesNo(u.mfa_enabled) + "</td><td>" +
           yesNo(u.email_verified) + "</td><td><a href=\"/ui/admin/users/" + std::to_string(u.id) +
           "\" id=\"manage-" + std::to_string(u.id) + "\">Manage</a></td></tr>\n";
  }
  out += "</tbody></table></div>\n<p class=\"links\">";
  const std::string base = "/ui/admin?q=" + core::percentEncode(q) + "&page=";
  if (*page > 1)
    out +=
        "<a href=\"" + ui::esc(base + std::to_string(*page - 1)) + "\" rel=\"prev\">Previous</a>";
  if (more)
    out += "<a href=\"" + ui::esc(base + std::to_string(*page + 1)) + "\" rel=\"next\">Next</a>";
  out += "</p>\n";
  return out;
}

std::string analyticsSection(Call& c, std::string& error) {
  const http::Response api = handlers::analyticsSummary(c);
  if (api.status != 200) {
    error = pages::detailOf(api);
    return {};
  }
  boost::system::error_code ec;
  const json::value v = json::parse(api.body, ec);
  if (ec || !v.is_object()) return {};
  const json::object& o = v.get_object();
  const auto number = [&o](const char* key) {
    const auto* n = o.if_contains(key);
    return n != nullptr && n->is_int64() ? std::to_string(n->get_int64()) : std::string("0");
  };
  std::map<std::string, std::int64_t, std::less<>> counted;
  if (const auto* days = o.if_contains("registrations_per_day");
      days != nullptr && days->is_array()) {
    for (const auto& d : days->get_array()) {
      const auto* obj = d.if_object();
      if (obj == nullptr) continue;
      const auto* day = obj->if_contains("date");
      const auto* count = obj->if_contains("count");
      if (day != nullptr && day->is_string() && count != nullptr && count->is_int64())
        counted[std::string(day->get_string())] = count->get_int64();
    }
  }
  // One bar a day of the window, the quiet days too (the summary lists only days with some),
  // by the summary's own clock (audit_routes counts "since" from the system clock).
  std::vector<std::pair<std::string, std::int64_t>> bars;
  const auto* window = o.if_contains("days");
  const std::int64_t days = window != nullptr && window->is_int64() ? window->get_int64() : 30;
  const std::int64_t today = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count() /
                             86400;
  for (std::int64_t d = today - days + 1; d <= today; ++d) {
    const std::string date = rfc3339(d * 86400).substr(0, 10);
    const auto found = counted.find(date);
    bars.emplace_back(date, found == counted.end() ? 0 : found->second);
  }
  std::string out = "<dl id=\"analytics-summary\"><dt>Users</dt><dd>" + number("total_users") +
                    "</dd><dt>Sign-ins (" + number("days") + " days)</dt><dd>" +
                    number("logins_ok") + "</dd><dt>Failed sign-ins</dt><dd>" +
                    number("logins_failed") + "</dd><dt>Active users</dt><dd>" +
                    number("active_users") + "</dd></dl>\n";
  out += "<div class=\"chart\" id=\"registrations-chart\">" +
         ui::barChart("Registrations per day, last " + number("days") + " days", bars) + "</div>\n";
  out += "<p class=\"links\"><a href=\"/ui/admin/audit\">The audit log</a></p>\n";
  return out;
}

http::Response console(Call& c) {
  const auth::Principal& who = *c.who;
  std::string body = ui::heading("Administration");
  if (const auto text = pages::notice(kDone, c.request.queryParam("done")); !text.empty())
    body += ui::noticeBox(text);
  std::string error;
  if (holds(who, "users:write")) {
    const std::string users = usersSection(c, error);
    body +=
        "<section id=\"users\" aria-labelledby=\"users-title\"><h2 id=\"users-title\">Users"
        "</h2>\n" +
        (error.empty() ? users : ui::errorBox(error)) + "</section>\n";
  }
  if (holds(who, "analytics:view")) {
    error.clear();
    const std::string analytics = analyticsSection(c, error);
    body +=
        "<section id=\"analytics\" aria-labelledby=\"analytics-title\"><h2 "
        "id=\"analytics-title\">Activity</h2>\n" +
        (error.empty() ? analytics : ui::errorBox(error)) + "</section>\n";
  }
  return consolePage(c, "Administration", body, 200);
}

// One user's page: what the viewer may do to them, each a form.
http::Response userPage(Call& c, int status, std::string_view notice, std::string_view error) {
  Services& s = c.services;
  const auth::Principal& who = *c.who;
  auto id = pathId(c.request);
  if (!id) return pages::pageRefusal(s, c.request, id.error());
  auto user = s.users.get(*id);
  if (!user) return pages::pageRefusal(s, c.request, errorResponse(user.error(), c.request));
  const auto token = pages::formToken(c);
  const std::string& csrf = token.token;
  const std::string base = "/ui/admin/users/" + std::to_string(user->id);
  // Nobody acts above their own rights: out of reach, the page says so and offers nothing.
  const bool reachable = rbac::allows(who.permissions, s.policy.permissionsOf(user->role));
  std::string body = ui::heading(user->username);
  if (!notice.empty()) body += ui::noticeBox(notice);
  if (!error.empty()) body += ui::errorBox(error);
  body += "<dl id=\"user-details\"><dt>Email</dt><dd>" + ui::esc(user->email) +
          "</dd><dt>Role</dt><dd id=\"user-role\">" + ui::esc(user->role) +
          "</dd><dt>Active</dt><dd id=\"user-active\">" + yesNo(user->is_active) +
          "</dd><dt>Second factor</dt><dd>" + yesNo(user->mfa_enabled) +
          "</dd><dt>Email verified</dt><dd>" + yesNo(user->email_verified) +
          "</dd><dt>Created</dt><dd>" + pages::when(user->created_at) + "</dd></dl>\n";
  if (!reachable) {
    body += ui::paragraph("This account holds permissions you do not have: you cannot change it.");
  } else {
    if (holds(who, "roles:manage")) {
      std::string role = ui::formStart(base + "/role", "role-form", csrf);
      role += "<label for=\"role\">Role</label><select id=\"role\" name=\"role\">";
      for (const auto& r : s.policy.roles()) {
        // Only roles within the viewer's rights are offered (the API refuses the others).
        if (!rbac::allows(who.permissions, s.policy.permissionsOf(r))) continue;
        role += "<option value=\"" + ui::esc(r) + "\"" + (r == user->role ? " selected" : "") +
                ">" + ui::esc(r) + "</option>";
      }
      role += "</select>\n" + ui::formEnd("Set the role");
      body += "<section id=\"role\"><h2>Role</h2>" + role + "</section>\n";
    }
    std::string actions = ui::buttonForm(
        base + "/active", "active-form", csrf,
        user->is_active ? "Deactivate the account" : "Activate the account",
        {{"is_active", user->is_active ? "false" : "true"}}, user->is_active ? "danger" : "");
    actions += ui::buttonForm(base + "/sessions-end", "sessions-end-form", csrf,
                              "End every session", {}, "secondary");
    if (user->mfa_enabled) {
      actions += ui::buttonForm(base + "/mfa-reset", "mfa-reset-form", csrf,
                                "Remove the second factor", {}, "danger");
    }
    body += "<section id=\"actions\"><h2>Account</h2><p>" + actions + "</p></section>\n";
    std::string password = ui::formStart(base + "/password", "set-password-form", csrf);
    password += ui::field({"New password", "new_password", "password", "new-password"});
    password +=
        "<label class=\"check\"><input type=\"checkbox\" name=\"keep_api_keys\" "
        "value=\"true\">Keep the user's API keys working</label>\n";
    password += ui::formEnd("Set the password");
    body += "<section id=\"password\"><h2>Password</h2>" + password + "</section>\n";
  }
  body += "<p class=\"links\"><a href=\"/ui/admin\">All users</a>";
  if (holds(who, "analytics:view"))
    body +=
        "<a href=\"/ui/admin/audit?user_id=" + std::to_string(user->id) + "\">Its audit trail</a>";
  body += "</p>\n";
  return consolePage(c, user->username, body, status);
}

http::Response showUser(Call& c) {
  return userPage(c, 200, pages::notice(kDone, c.request.queryParam("done")), {});
}

// The API's answer to a console form: back to the user's page with a notice, or that page with
// the API's words; a session that ended or a due step-up goes through the portal.
template <http::Response (*Api)(Call&)>
http::Response act(Call& c, std::string_view done) {
  const http::Response api = Api(c);
  if (api.status < 300) {
    return pages::seeOther("/ui/admin/users/" + c.request.path_params.at("id") +
                           "?done=" + std::string(done));
  }
  if (pages::needsSignIn(api)) return pages::pageRefusal(c.services, c.request, api);
  return userPage(c, api.status, {}, pages::detailOf(api));
}

// The filter form sends every field; an empty one means "any", as if left out.
void dropEmptyQueryFields(http::Request& r) {
  const auto pairs = http::parseForm(r.query);
  if (!pairs) return;  // the API's validation answers it
  std::string query;
  for (const auto& [name, value] : *pairs) {
    if (value.empty()) continue;
    query +=
        (query.empty() ? "" : "&") + core::percentEncode(name) + "=" + core::percentEncode(value);
  }
  r.query = std::move(query);
}

http::Response audit(Call& c) {
  dropEmptyQueryFields(c.request);
  const http::Response api = handlers::auditEvents(c);
  const auto& r = c.request;
  std::string body = ui::heading("Audit log");
  body += "<form method=\"get\" action=\"/ui/admin/audit\" id=\"audit-filter-form\">";
  body += ui::field({"Event type", "type", "text", "off", false, r.queryParam("type").value_or(""),
                     "maxlength=\"64\" placeholder=\"login.failed\""});
  body += ui::field(
      {"User id", "user_id", "number", "off", false, r.queryParam("user_id").value_or(""), ""});
  body += ui::field({"Since (RFC 3339 or Unix seconds)", "since", "text", "off", false,
                     r.queryParam("since").value_or(""), "maxlength=\"32\""});
  body += "<button type=\"submit\">Filter</button></form>\n";
  if (api.status != 200) {
    body += ui::errorBox(pages::detailOf(api));
    return consolePage(c, "Audit log", body, api.status);
  }
  boost::system::error_code ec;
  const json::value v = json::parse(api.body, ec);
  const json::value* items = !ec && v.is_object() ? v.get_object().if_contains("items") : nullptr;
  body +=
      "<div class=\"table\"><table id=\"audit-table\"><thead><tr><th>Time</th><th>Event</th>"
      "<th>Actor</th><th>Subject</th><th>Address</th><th>Detail</th></tr></thead><tbody>\n";
  if (items != nullptr && items->is_array()) {
    for (const auto& item : items->get_array()) {
      const auto* o = item.if_object();
      if (o == nullptr) continue;
      const auto text = [o](const char* key) -> std::string {
        const auto* f = o->if_contains(key);
        if (f == nullptr || f->is_null()) return "";
        if (f->is_string()) return std::string(f->get_string());
        return json::serialize(*f);
      };
      const auto* time = o->if_contains("time");
      body += "<tr><td>" +
              (time != nullptr && time->is_int64() ? pages::when(time->get_int64()) : "") +
              "</td><td>" + ui::esc(text("type")) + "</td><td>" + ui::esc(text("actor_id")) +
              "</td><td>" + ui::esc(text("subject_id")) + "</td><td>" + ui::esc(text("client_ip")) +
              "</td><td><code>" + ui::esc(text("detail")) + "</code></td></tr>\n";
    }
  }
  body +=
      "</tbody></table></div>\n<p class=\"links\"><a href=\"/ui/admin\">Administration</a></p>\n";
  return consolePage(c, "Audit log", body, 200);
}

}  // namespace

void addUiAdminRoutes(RouteTable& t) {
  t.add({.method = "GET",
         .path = "/ui/admin",
         .credential = Credential::Session,
         .any_permissions = {std::string(pages::kConsolePermissions[0]),
                             std::string(pages::kConsolePermissions[1])},
         .lane = Lane::Storage,
         .summary = "The admin console (users:write or analytics:view)",
         .tag = "pages",
         .replies = {{200, "The page", ""}, {403, "Neither permission", ""}},
         .hidden = true,
         .handler = console});
  t.add({.method = "GET",
         .path = "/ui/admin/users/{id}",
         .credential = Credential::Session,
         .permissions = {"users:write"},
         .lane = Lane::Storage,
         .summary = "One user in the console",
         .tag = "pages",
         .replies = {{200, "The page", ""}},
         .hidden = true,
         .handler = showUser});
  t.add({.method = "GET",
         .path = "/ui/admin/audit",
         .credential = Credential::Session,
         .permissions = {"analytics:view"},
         .lane = Lane::Storage,
         .summary = "The audit log in the console",
         .tag = "pages",
         .replies = {{200, "The page", ""}},
         .hidden = true,
         .handler = audit});
  using pages::addForm;
  addForm(t, "PUT", "/api/v1/users/{id}/role", "/ui/admin/users/{id}/role", "Set a user's role",
          [](Call& c) { return act<handlers::setRole>(c, "role"); });
  addForm(t, "PATCH", "/api/v1/users/{id}", "/ui/admin/users/{id}/active",
          "Activate or deactivate a user", [](Call& c) {
            // This form changes the active flag only (the API route also renames).
            c.body->forbidOthers({"is_active"});
            return act<handlers::patchUser>(c, "active");
          });
  addForm(t, "DELETE", "/api/v1/users/{id}/mfa", "/ui/admin/users/{id}/mfa-reset",
          "Remove a user's second factors",
          [](Call& c) { return act<handlers::resetUserMfa>(c, "mfa-reset"); });
  addForm(t, "DELETE", "/api/v1/users/{id}/sessions", "/ui/admin/users/{id}/sessions-end",
          "End a user's sessions",
          [](Call& c) { return act<handlers::endUserSessions>(c, "sessions-ended"); });
  addForm(t, "PUT", "/api/v1/users/{id}/password", "/ui/admin/users/{id}/password",
          "Set a user's password",
          [](Call& c) { return act<handlers::setUserPassword>(c, "password"); });
}

}  // namespace gatehouse::api
