// Audit trail, analytics and metrics: GET /api/v1/audit-events, GET /api/v1/analytics/summary
// (both need analytics:view) and GET /metrics (Prometheus text).
#include <charconv>
#include <ctime>

#include "api/body.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "audit/audit_log.hpp"
#include "core/utf8.hpp"
#include "crypto/digest.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;

std::optional<std::int64_t> integer(const std::string& text) {
  std::int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return n;
}

// `since` as Unix seconds or RFC 3339 UTC ("2026-11-25T10:00:00Z"), from 1970 to the end of
// 9999; milliseconds out. (An outside attack sent Unix seconds whose milliseconds overflow.)
std::optional<std::int64_t> parseSince(const std::string& text) {
  constexpr std::int64_t kLast = 253402300799;  // 9999-12-31T23:59:59Z
  std::optional<std::int64_t> seconds = integer(text);
  if (!seconds) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr || (std::string_view(end) != "Z" && std::string_view(end) != "+00:00"))
      return std::nullopt;
    seconds = static_cast<std::int64_t>(timegm(&tm));
  }
  if (*seconds < 0 || *seconds > kLast) return std::nullopt;
  return *seconds * 1000;
}

http::Response auditEvents(Call& c) {
  Services& s = c.services;
  const http::Request& r = c.request;
  std::vector<auth::FieldError> errors;
  store::AuditQuery q;
  q.type = r.queryParam("type");
  if (q.type && !core::isStorableText(*q.type)) {
    // No event type holds NUL or invalid UTF-8 (PostgreSQL refused the query with a 500).
    errors.push_back({{"query", "type"}, "expected an event type", "value_error"});
  }
  q.user_id = queryInteger(r, "user_id", INT64_MIN, INT64_MAX, std::nullopt, errors);
  if (auto v = r.queryParam("since")) {
    q.since_ms = parseSince(*v);
    if (!q.since_ms) {
      errors.push_back({{"query", "since"},
                        "expected Unix seconds or an RFC 3339 UTC time",
                        "value_error.datetime"});
    }
  }
  // The next page: records older than this id (the last item's). Without it, records past the
  // newest 1000 matches could not be read, and a flood of harmless changes buried one (an outside
  // attack).
  q.before_id = queryInteger(r, "before", 1, INT64_MAX, std::nullopt, errors);
  q.limit = queryInteger(r, "limit", 1, 1000, q.limit, errors).value_or(q.limit);
  if (!errors.empty()) return validationError(errors);
  auto rows = s.store.audit().query(q);
  if (!rows) return errorResponse(auth::storeFailure(rows.error()), r);
  json::array items;
  for (const auto& row : *rows) items.push_back(audit::toJson(row));
  return http::Response::json(200, json::object{{"items", std::move(items)}});
}

http::Response summary(Call& c) {
  Services& s = c.services;
  const http::Request& r = c.request;
  std::vector<auth::FieldError> errors;
  const auto days = queryInteger(r, "days", 1, 366, 30, errors);
  if (!days) return validationError(errors);
  const std::int64_t since = (std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count() -
                              *days * 86400) *
                             1000;
  auto& a = s.store.audit();
  auto ok = a.countSince("login.succeeded", since);
  auto failed = a.countSince("login.failed", since);
  auto active = a.distinctSubjectsSince("login.succeeded", since);
  auto per_day = a.perDaySince("user.registered", since);
  auto total = s.store.users().count();
  for (const core::Error* e :
       {ok ? nullptr : &ok.error(), failed ? nullptr : &failed.error(),
        active ? nullptr : &active.error(), per_day ? nullptr : &per_day.error(),
        total ? nullptr : &total.error()}) {
    if (e != nullptr) return errorResponse(auth::storeFailure(*e), r);
  }
  json::array registrations;
  for (const auto& d : *per_day)
    registrations.push_back(json::object{{"date", d.day}, {"count", d.count}});
  return http::Response::json(200,
                              json::object{{"days", *days},
                                           {"logins_ok", *ok},
                                           {"logins_failed", *failed},
                                           {"active_users", *active},
                                           {"total_users", *total},
                                           {"registrations_per_day", std::move(registrations)}});
}

http::Response metricsText(Call& c) {
  // Counters tell what happened to one request (a login that failed, a reset mail sent to a known
  // address): with METRICS_TOKEN set, only the scraper that holds it reads them.
  if (const auto& token = c.services.metrics_token; !token.empty()) {
    const auto presented = c.request.header("authorization");
    if (!presented) {
      return errorResponse({auth::Errc::NotAuthenticated, "metrics token missing", {}, 0},
                           c.request);
    }
    const auto bearer = authorizationCredentials(*presented, "bearer");
    // Compared as digests: equal lengths whatever was presented, so the time tells nothing of
    // the token's length either (an outside review).
    if (!bearer || !crypto::constantTimeEquals(crypto::sha256(*bearer), crypto::sha256(token))) {
      return errorResponse({auth::Errc::InvalidToken, "metrics token wrong", {}, 0}, c.request);
    }
  }
  http::Response res;
  res.status = 200;
  res.body = c.services.metrics.render();
  res.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  return res;
}

}  // namespace

// The handlers the pages run (handlers.hpp).
namespace handlers {
http::Response auditEvents(Call& c) { return api::auditEvents(c); }
http::Response analyticsSummary(Call& c) { return api::summary(c); }
}  // namespace handlers

void addAuditRoutes(RouteTable& t) {
  t.add({.method = "GET",
         .path = "/api/v1/audit-events",
         .credential = Credential::TokenOrKey,
         .permissions = {"analytics:view"},
         .lane = http::Lane::Storage,
         .summary = "Audit events, newest first",
         .tag = "audit",
         .params = {{"type", "query", "string", false, "event type, e.g. login.failed"},
                    {"user_id", "query", "integer", false, "actor or subject"},
                    {"since", "query", "string", false, "Unix seconds or RFC 3339 UTC"},
                    {"before", "query", "integer", false,
                     "an event id: older events only (the next page: the last item's id)"},
                    {"limit", "query", "integer", false, "1 to 1000 (100)"}},
         .replies = {{200, "Events", "AuditEventList"}},
         .handler = auditEvents});
  t.add({.method = "GET",
         .path = "/api/v1/analytics/summary",
         .credential = Credential::TokenOrKey,
         .permissions = {"analytics:view"},
         .lane = http::Lane::Storage,
         .summary = "Logins, active users and registrations per day",
         .tag = "audit",
         .params = {{"days", "query", "integer", false, "1 to 366 (30)"}},
         .replies = {{200, "The summary", "AnalyticsSummary"}},
         .handler = summary});
  t.add({.method = "GET",
         .path = "/metrics",
         .credential = Credential::None,
         .lane = http::Lane::Inline,
         .summary = "Prometheus metrics (text format 0.0.4)",
         .tag = "operations",
         .description = "With METRICS_TOKEN set, only for `Authorization: Bearer <METRICS_TOKEN>` "
                        "(Prometheus' `authorization` setting); otherwise open: keep it on the "
                        "monitoring network.",
         .replies = {{200, "Metrics in Prometheus text format", ""},
                     {401, "METRICS_TOKEN is set and was not presented", "ErrorDetail"}},
         .handler = metricsText});
}

}  // namespace gatehouse::api
