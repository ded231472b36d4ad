// The pages an emailed link opens (API.md, Pages for people): GET shows a form and spends
// nothing (mail scanners open every link), POST spends the token through the same services as
// the JSON API, under the same limits.
#include "api/body.hpp"
#include "api/page_support.hpp"
#include "api/route.hpp"
#include "api/services.hpp"
#include "ui/pages.hpp"

namespace gatehouse::api {

const RateLimitRule& emailTokenLimit();

namespace {

using http::Lane;

using pages::html;

constexpr ui::TokenForm kReset{"/ui/reset-password", "Choose a new password",
                               "Enter the new password for your account.", "Set the password",
                               true};
constexpr ui::TokenForm kVerify{"/ui/verify-email", "Verify your email address",
                                "Confirm that this address is yours.", "Verify", false};
constexpr ui::TokenForm kConfirm{"/ui/confirm-email", "Confirm your new email address",
                                 "Confirm the change of your account's address.", "Confirm", false};

// The first line of the problems a form cannot submit (a missing field, the password policy).
std::string problemsText(const std::vector<auth::FieldError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    const std::string field = e.loc.empty() ? "" : e.loc.back();
    out += (out.empty() ? "" : "; ") + (field == "token" ? "the code from the email" : field) +
           ": " + e.msg;
  }
  return out;
}

// What a failed spend tells the person, in the contract's words.
std::string refusalText(const auth::Error& e) {
  switch (e.code) {
    case auth::Errc::InvalidEmailToken:
      return "Invalid or expired token. Ask for a new email and use its link.";
    case auth::Errc::EmailTaken:
      return "Email already registered.";
    case auth::Errc::RateLimited:
      return "Too many attempts. Wait a little and try again.";
    case auth::Errc::MailNotConfigured:
      return "Email is not configured on this server.";
    default:
      return "Something went wrong. Try again in a moment.";
  }
}

template <const ui::TokenForm& Form>
http::Response show(Call& c) {
  const auto csrf = pages::formToken(c);
  return pages::attach(
      html(c.services, 200, ui::tokenPage(Form, c.services.brand_name, csrf.token)), csrf);
}

template <const ui::TokenForm& Form>
http::Response submit(Call& c) {
  Body& body = *c.body;
  const std::string brand = c.services.brand_name;
  const std::string csrf = pages::formToken(c).token;
  std::string token = body.requiredString("token");
  // Pasted by hand, a code often brings spaces or a line break along.
  token.erase(0, token.find_first_not_of(" \t\r\n"));
  token.erase(token.find_last_not_of(" \t\r\n") + 1);
  std::string password;
  if (Form.new_password) password = body.requiredString("new_password");
  // As the API's bodies: the token, and the new password where one is chosen.
  if (Form.new_password)
    body.forbidOthers({"token", "new_password"});
  else
    body.forbidOthers({"token"});
  if (body.ok() && Form.new_password) {
    auto problems = c.services.passwords.newPasswordProblems(password, "new_password");
    body.errors().insert(body.errors().end(), problems.begin(), problems.end());
  }
  if (!body.ok())
    return html(c.services, 422, ui::tokenPage(Form, brand, csrf, problemsText(body.errors())));
  if (auto refused = c.admit()) {
    return pages::limited(*refused, [&](int status, std::string_view text) {
      return html(c.services, status, ui::tokenPage(Form, brand, csrf, text));
    });
  }
  mail::EmailFlows* flows = c.services.email;
  const auto client = clientOf(c.request);
  auth::Result<void> done = tl::unexpected(auth::Error{auth::Errc::MailNotConfigured, {}, {}, 0});
  std::string message;
  if (flows != nullptr && &Form == &kReset) {
    auto user = flows->resetPassword(token, password, client);
    if (user) c.notify(*user, mail::Notice::PasswordChanged);
    done = user.map([](auto&&) {});
    message = "Your password has been reset and every session has ended. Sign in with it.";
  } else if (flows != nullptr && &Form == &kVerify) {
    done = flows->verifyEmail(token, client).map([](auto&&) {});
    message = "Your email address is verified.";
  } else if (flows != nullptr) {
    done = flows->confirmEmailChange(token, client).map([](auto&&) {});
    message = "Your account's email address has changed.";
  }
  if (!done) {
    // The log gets the detail (with the request id); the person the contract's words.
    const int status = errorResponse(done.error(), c.request).status;
    return html(c.services, status, ui::tokenPage(Form, brand, csrf, refusalText(done.error())));
  }
  return html(c.services, 200, ui::messagePage(brand, "Done", message));
}

http::Response asset(Call& c) {
  if (c.request.path_params.at("name") == "brand.css") {
    http::Response res;
    res.status = 200;
    res.body = c.services.brand_css;
    res.set("Content-Type", "text/css; charset=utf-8");
    res.set("Cache-Control", "public, max-age=3600");
    return res;
  }
  const auto file = ui::staticAsset(c.request.path_params.at("name"));
  if (!file) return errorResponse({auth::Errc::NotFound, {}, {}, 0}, c.request);
  http::Response res;
  res.status = 200;
  res.body = std::string(file->body);
  res.set("Content-Type", std::string(file->content_type));
  res.set("Cache-Control", "public, max-age=3600");
  return res;
}

}  // namespace

void addUiRoutes(RouteTable& t) {
  const auto page = [&t](const ui::TokenForm& form, RouteHandler get, RouteHandler post,
                         Lane lane) {
    t.add({.method = "GET",
           .path = std::string(form.path),
           .credential = Credential::None,
           .lane = Lane::Inline,
           .summary = std::string(form.title) + " (the page an emailed link opens)",
           .tag = "pages",
           .replies = {{200, "The form; spends nothing", ""}},
           .hidden = true,
           .handler = std::move(get)});
    t.add({.method = "POST",
           .path = std::string(form.path),
           .credential = Credential::None,
           .lane = lane,
           .summary = std::string(form.title) + " (the form's submission)",
           .tag = "pages",
           .body = BodyKind::Form,
           .body_schema = "EmailTokenRequest",
           .replies = {{200, "Done", ""}, {400, "Invalid or expired token", ""}},
           .limits = {emailTokenLimit()},
           .csrf = true,
           .hidden = true,
           .handler = std::move(post)});
  };
  page(kReset, show<kReset>, submit<kReset>, Lane::Hashing);
  page(kVerify, show<kVerify>, submit<kVerify>, Lane::Storage);
  page(kConfirm, show<kConfirm>, submit<kConfirm>, Lane::Storage);
  t.add({.method = "GET",
         .path = "/ui/static/{name}",
         .credential = Credential::None,
         .lane = Lane::Inline,
         .summary = "The pages' script and stylesheet",
         .tag = "pages",
         .replies = {{200, "The file", ""}, {404, "No such file", "ErrorDetail"}},
         .hidden = true,
         .handler = asset});
}

}  // namespace gatehouse::api
