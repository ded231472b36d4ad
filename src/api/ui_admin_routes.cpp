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
#include "core/utf8.hpp"
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
  return rbac::allowsAny(who.permissions, {&permission, 1});
}

constexpr std::pair<std::string_view, std::string_view> kDone[] = {
    {"role", "The role has changed."},
    {"active", "The account's state has changed."},
    {"mfa-reset", "Every second factor of the user was removed."},
    {"sessions-ended", "Every session of the user has ended."},
    {"password", "The password was set; the user's sessions have ended."},
};

std::string yesNo(bool v) { return v ? "yes" : "no"; }

http::Response consolePage(Call& c, std::string_view view, std::string_view title,
                           json::object data, int status) {
  const auto token = pages::formToken(c);
  return html(c.services, status, pages::render(c, view, title, std::move(data), token.token));
}

// The users section: the search, a page of users, the links to the pages around it.
json::object usersSection(Call& c) {
  const std::string q = c.request.queryParam("q").value_or("");
  std::vector<auth::FieldError> errors;
  const auto page = queryInteger(c.request, "page", 1, 100000, 1, errors);
  // Text no column holds (NUL, invalid UTF-8) is no one's: PostgreSQL refused it with an error
  // line and the page said "Internal Server Error" (a review).
  if (!errors.empty() || q.size() > 254 || !core::isStorableText(q))
    return {{"error", "The search is not valid."}};
  auto users = c.services.store.users().search(q, kPageSize + 1, (*page - 1) * kPageSize);
  if (!users) return {{"error", pages::refusalText(auth::storeFailure(users.error()), c.request)}};
  const bool more = static_cast<std::int64_t>(users->size()) > kPageSize;
  if (more) users->pop_back();
  json::array rows;
  for (const auto& u : *users) {
    rows.push_back(json::object{{"id", u.id},
                                {"email", u.email},
                                {"username", u.username},
                                {"role", u.role},
                                {"active", yesNo(u.is_active)},
                                {"mfa", yesNo(u.mfa_enabled)},
                                {"verified", yesNo(u.email_verified)}});
  }
  const std::string base = "/ui/admin?q=" + core::percentEncode(q) + "&page=";
  return {{"error", ""},
          {"q", q},
          {"rows", std::move(rows)},
          {"prev", *page > 1 ? base + std::to_string(*page - 1) : ""},
          {"next", more ? base + std::to_string(*page + 1) : ""}};
}

json::object analyticsSection(Call& c) {
  const http::Response api = handlers::analyticsSummary(c);
  if (api.status != 200) return {{"error", pages::detailOf(api)}};
  boost::system::error_code ec;
  const json::value v = json::parse(api.body, ec);
  if (ec || !v.is_object()) return {{"error", "Something went wrong."}};
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
  return {{"error", ""},
          {"total", number("total_users")},
          {"days", number("days")},
          {"ok", number("logins_ok")},
          {"failed", number("logins_failed")},
          {"active", number("active_users")},
          {"chart", ui::barChart("Registrations per day, last " + number("days") + " days", bars)}};
}

http::Response console(Call& c) {
  const auth::Principal& who = *c.who;
  json::object data{{"notice", pages::notice(kDone, c.request.queryParam("done"))}};
  if (holds(who, "users:write")) data["users"] = usersSection(c);
  if (holds(who, "analytics:view")) data["analytics"] = analyticsSection(c);
  return consolePage(c, "console", "Administration", std::move(data), 200);
}

// One user's page: what the viewer may do to them, each a form.
http::Response userPage(Call& c, int status, std::string_view notice, std::string_view error) {
  Services& s = c.services;
  const auth::Principal& who = *c.who;
  auto id = pathId(c.request);
  if (!id) return pages::pageRefusal(s, c.request, id.error());
  auto user = s.users.get(*id);
  if (!user) return pages::pageRefusal(s, c.request, errorResponse(user.error(), c.request));
  // Nobody acts above their own rights: out of reach, the page says so and offers nothing. Nor
  // does it on the viewer's own account, which the administrator's routes refuse (the account
  // page is where one changes oneself).
  const bool own = user->id == who.user->id;
  const bool reachable = !own && rbac::allows(who.permissions, s.policy.permissionsOf(user->role));
  json::array roles;
  for (const auto& r : s.policy.roles()) {
    // Only roles within the viewer's rights are offered (the API refuses the others).
    if (!rbac::allows(who.permissions, s.policy.permissionsOf(r))) continue;
    roles.push_back(json::object{{"name", r}, {"selected", r == user->role}});
  }
  return consolePage(c, "user", user->username,
                     {{"notice", notice},
                      {"error", error},
                      {"user", json::object{{"id", user->id},
                                            {"username", user->username},
                                            {"email", user->email},
                                            {"role", user->role},
                                            {"active", yesNo(user->is_active)},
                                            {"mfa", yesNo(user->mfa_enabled)},
                                            {"verified", yesNo(user->email_verified)},
                                            {"created", pages::when(user->created_at)}}},
                      {"reachable", reachable},
                      {"own", own},
                      {"can_role", holds(who, "roles:manage")},
                      {"roles", std::move(roles)},
                      {"is_active", user->is_active},
                      {"mfa_enabled", user->mfa_enabled},
                      {"can_audit", holds(who, "analytics:view")}},
                     status);
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
  json::object data{{"type", r.queryParam("type").value_or("")},
                    {"user_id", r.queryParam("user_id").value_or("")},
                    {"since", r.queryParam("since").value_or("")}};
  if (api.status != 200) {
    data["error"] = pages::detailOf(api);
    return consolePage(c, "audit", "Audit log", std::move(data), api.status);
  }
  boost::system::error_code ec;
  const json::value v = json::parse(api.body, ec);
  const json::value* items = !ec && v.is_object() ? v.get_object().if_contains("items") : nullptr;
  json::array rows;
  std::int64_t last_id = 0;
  if (items != nullptr && items->is_array()) {
    for (const auto& item : items->get_array()) {
      const auto* o = item.if_object();
      if (o == nullptr) continue;
      if (const auto* id = o->if_contains("id"); id != nullptr && id->is_int64())
        last_id = id->get_int64();
      const auto text = [o](const char* key) -> std::string {
        const auto* f = o->if_contains(key);
        if (f == nullptr || f->is_null()) return "";
        if (f->is_string()) return std::string(f->get_string());
        return json::serialize(*f);
      };
      const auto* time = o->if_contains("time");
      rows.push_back(json::object{
          {"time", time != nullptr && time->is_int64() ? json::value(pages::when(time->get_int64()))
                                                       : json::value(nullptr)},
          {"type", text("type")},
          {"actor", text("actor_id")},
          {"subject", text("subject_id")},
          {"ip", text("client_ip")},
          {"detail", text("detail")}});
    }
  }
  // A full page has an older one (a review: the console kept no `before`, so a flood of harmless
  // changes still buried a record there): the same filters, before its last record.
  if (last_id > 0 && rows.size() >= 100) {
    std::string older;
    for (const char* name : {"type", "user_id", "since"}) {
      if (auto given = r.queryParam(name); given && !given->empty())
        older += std::string(name) + "=" + core::percentEncode(*given) + "&";
    }
    data["older"] = older + "before=" + std::to_string(last_id);
  }
  data["rows"] = std::move(rows);
  return consolePage(c, "audit", "Audit log", std::move(data), 200);
}

}  // namespace

void addUiAdminRoutes(RouteTable& t) {
  t.add({.method = "GET",
         .path = "/ui/admin",
         .credential = Credential::Session,
         .any_permissions = {std::begin(pages::kConsolePermissions),
                             std::end(pages::kConsolePermissions)},
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
