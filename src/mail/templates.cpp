#include "mail/templates.hpp"

#include <array>

#include "core/files.hpp"
#include "core/html.hpp"
#include "core/utf8.hpp"

namespace gatehouse::mail {
namespace {

constexpr std::size_t kMaxTemplateBytes = 64 * 1024;

constexpr std::array<std::string_view, 8> kPlaceholders = {
    "product", "link", "token", "username", "email", "new_email", "public_url", "expires"};

// The HTML around every built-in body: inline styles only (mail clients drop <style> and
// external sheets).
std::string page(std::string_view body) {
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{{product}}</title></head>\n"
         "<body style=\"font-family:sans-serif;color:#1f2933;max-width:36em;margin:2em auto\">\n" +
         std::string(body) +
         "<p style=\"color:#616e7c;font-size:small\">{{product}} &middot; "
         "<a href=\"{{public_url}}\">{{public_url}}</a></p>\n</body></html>\n";
}

std::string button(std::string_view label) {
  return "<p><a href=\"{{link}}\" style=\"display:inline-block;padding:.6em 1.2em;"
         "background:#2457c5;color:#fff;text-decoration:none;border-radius:4px\">" +
         std::string(label) +
         "</a></p>\n<p>Or copy this address into your browser:<br>"
         "<a href=\"{{link}}\">{{link}}</a></p>\n";
}

std::map<std::string, std::array<std::string, 3>, std::less<>> builtIns() {
  return {
      {"reset-password",
       {"Reset your {{product}} password",
        "Hello {{username}},\n\nSomeone (hopefully you) asked to reset the password of your "
        "{{product}} account {{email}}.\nTo choose a new password, open this link within "
        "{{expires}}:\n\n{{link}}\n\nIf the page asks for the code from the email, it "
        "is:\n{{token}}\n\nOpening the link changes nothing until you submit a new "
        "password. If you did not ask for this, ignore this message: your password stays as "
        "it is.\n\n-- \n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>Someone (hopefully you) asked to reset the password "
             "of your {{product}} account {{email}}. To choose a new password, open this link "
             "within {{expires}}:</p>\n" +
             button("Choose a new password") +
             "<p>If you did not ask for this, ignore this message: your password stays as it "
             "is.</p>\n")}},
      {"verify-email",
       {"Verify your email address for {{product}}",
        "Hello {{username}},\n\nPlease confirm that {{email}} is your address for the {{product}} "
        "account {{username}} by opening this link within {{expires}}:\n\n{{link}}\n\nIf the "
        "page asks for the code from the email, it is:\n{{token}}\n\nIf you did not create "
        "that account, ignore this message: confirming would give the address to whoever did, "
        "and the ways into it they chose. To take the address back, use Forgot password on the "
        "sign-in page.\n\n-- \n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>Please confirm that {{email}} is your address for "
             "the {{product}} account {{username}} by opening this link within {{expires}}:</p>\n" +
             button("Verify my email address") +
             "<p>If you did not create that account, ignore this message: confirming would give "
             "the address to whoever did, and the ways into it they chose. To take the address "
             "back, use Forgot password on the sign-in page.</p>\n")}},
      {"confirm-email-change",
       {"Confirm your new email address for {{product}}",
        "Hello {{username}},\n\nSomeone signed in to the {{product}} account {{username}} asked "
        "to make {{new_email}} its address. If that account is yours, open this link within "
        "{{expires}}:\n\n{{link}}\n\nIf the page asks for the code from the email, it "
        "is:\n{{token}}\n\nIf you did not ask for this, ignore this message: nothing changes. "
        "Confirming an account that is not yours would let whoever holds it use your address "
        "and keep their ways into it.\n\n-- \n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>Someone signed in to the {{product}} account "
             "{{username}} asked to make {{new_email}} its address. If that account is yours, "
             "open this link within {{expires}}:</p>\n" +
             button("Confirm my new address") +
             "<p>If you did not ask for this, ignore this message: nothing changes. Confirming an "
             "account that is not yours would let whoever holds it use your address and keep "
             "their ways into it.</p>\n")}},
      {"email-change-notice",
       {"Your {{product}} email address is being changed",
        "Hello {{username}},\n\nSomeone signed in to your {{product}} account asked to change "
        "its address from {{email}} to {{new_email}}. The change happens only when the new "
        "address confirms it.\n\nIf this was not you, sign in, change your password and end your "
        "other sessions at once.\n\n-- \n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>Someone signed in to your {{product}} account asked "
             "to change its address from {{email}} to {{new_email}}. The change happens only when "
             "the new address confirms it.</p>\n<p>If this was not you, sign in, change your "
             "password and end your other sessions at once.</p>\n")}},
      {"passkey-added",
       {"A passkey was added to your {{product}} account",
        "Hello {{username}},\n\nA passkey was just added to your {{product}} account {{email}}. "
        "A passkey signs in on its own, without your password.\n\nIf this was not you, sign in "
        "at once, remove it under Passkeys, change your password and end your other "
        "sessions:\n\n{{link}}\n\n-- \n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>A passkey was just added to your {{product}} "
             "account {{email}}. A passkey signs in on its own, without your password.</p>\n"
             "<p>If this was not you, sign in at once, remove it under Passkeys, change your "
             "password and end your other sessions:</p>\n" +
             button("Review my passkeys"))}},
      {"identity-linked",
       {"A sign-in through another provider was linked to your {{product}} account",
        "Hello {{username}},\n\nAn account at an external sign-in provider was just linked "
        "to your {{product}} account {{email}}: it now signs you in there, without your "
        "password.\n\nIf this was not you, sign in at once, unlink it under "
        "Linked sign-in, change your password and end your other sessions:\n\n{{link}}\n\n-- "
        "\n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>An account at an external sign-in provider was "
             "just linked to your {{product}} account {{email}}: it now signs you in there, "
             "without your password.</p>\n<p>If this was not you, sign in at "
             "once, unlink it under Linked sign-in, change your password and end your other "
             "sessions:</p>\n" +
             button("Review my linked sign-ins"))}},
      {"second-factor-failures",
       {"Wrong second-factor codes were entered for your {{product}} account",
        "Hello {{username}},\n\nSomeone just entered several wrong second-factor codes in a row "
        "for your {{product}} account {{email}}, after entering its password: whoever it was "
        "knows your password. Your second factor kept them out.\n\nIf this was not you, sign "
        "in and change your password at once:\n\n{{link}}\n\n-- \n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>Someone just entered several wrong second-factor "
             "codes in a row for your {{product}} account {{email}}, after entering its "
             "password: whoever it was knows your password. Your second factor kept them "
             "out.</p>\n<p>If this was not you, sign in and change your password at once:</p>\n" +
             button("Change my password"))}},
      {"second-factor-locked",
       {"The second-factor codes of your {{product}} account are locked",
        "Hello {{username}},\n\nSomeone entered so many wrong second-factor codes in a row for "
        "your {{product}} account {{email}}, after getting past its first step (your password, "
        "or a sign-in linked to the account), that its codes (your authenticator app's and your "
        "recovery codes) no longer sign in. A passkey still signs you in, and unlocks them.\n\n"
        "If this was not you, whoever it was knows your password: set a new one at once, and "
        "ask your administrator to reset your second factor (a new password alone does not "
        "unlock the codes):\n\n{{link}}\n\n-- \n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>Someone entered so many wrong second-factor codes "
             "in a row for your {{product}} account {{email}}, after getting past its first step "
             "(your password, or a sign-in linked to the account), that its codes (your "
             "authenticator app's and your recovery codes) no longer sign in. A passkey still "
             "signs you in, and unlocks them.</p>\n<p>If this was not you, whoever it was knows "
             "your password: set a new one at once, and ask your administrator to reset your "
             "second factor (a new password alone does not unlock the codes).</p>\n" +
             button("Set a new password"))}},
      {"totp-added",
       {"An authenticator app was added to your {{product}} account",
        "Hello {{username}},\n\nAn authenticator app was just added to your {{product}} account "
        "{{email}} as a second factor: signing in now asks for its codes.\n\nIf this was not "
        "you, someone holds a session of yours. Sign in with a second factor of your own if you "
        "have one and remove the app under Second factor, or ask your administrator to remove "
        "it; then change your password and end your other sessions:\n\n{{link}}\n\n-- "
        "\n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>An authenticator app was just added to your "
             "{{product}} account {{email}} as a second factor: signing in now asks for its "
             "codes.</p>\n<p>If this was not you, someone holds a session of yours. Sign in with "
             "a second factor of your own if you have one and remove the app under Second "
             "factor, or ask your administrator to remove it; then change your password and end "
             "your other sessions.</p>\n" +
             button("Review my second factors"))}},
      {"recovery-codes-replaced",
       {"New recovery codes were made for your {{product}} account",
        "Hello {{username}},\n\nNew recovery codes were just made for your {{product}} account "
        "{{email}}; the earlier ones no longer work.\n\nIf this was not you, someone holds a "
        "session of yours that proved your second factor: sign in, make new codes, change your "
        "password and end your other sessions:\n\n{{link}}\n\n-- \n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>New recovery codes were just made for your "
             "{{product}} account {{email}}; the earlier ones no longer work.</p>\n<p>If this "
             "was not you, someone holds a session of yours that proved your second factor: sign "
             "in, make new codes, change your password and end your other sessions:</p>\n" +
             button("Review my second factors"))}},
      {"factor-removed",
       {"A second factor was removed from your {{product}} account",
        "Hello {{username}},\n\nA second factor (an authenticator app or a passkey) was just "
        "removed from your {{product}} account {{email}}, by you or by an administrator.\n\nIf "
        "this was not you or your administrator, sign in at once, change your password, end "
        "your other sessions and add your factor again:\n\n{{link}}\n\n-- \n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>A second factor (an authenticator app or a passkey) "
             "was just removed from your {{product}} account {{email}}, by you or by an "
             "administrator.</p>\n<p>If this was not you or your administrator, sign in at "
             "once, change your password, end your other sessions and add your factor "
             "again:</p>\n" +
             button("Review my account"))}},
      {"password-changed",
       {"Your {{product}} password was changed",
        "Hello {{username}},\n\nThe password of your {{product}} account {{email}} was just "
        "changed, by you or by an administrator, and every session of it signed out.\n\nIf "
        "neither did, your password is no longer yours: ask for a reset link at once, and tell "
        "your administrator:\n\n{{link}}\n\n-- \n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>The password of your {{product}} account {{email}} "
             "was just changed, by you or by an administrator, and every session of it signed "
             "out.</p>\n<p>If neither did, your password is no longer yours: ask for a reset "
             "link at once, and tell your administrator:</p>\n" +
             button("Reset my password"))}},
      {"email-changed",
       {"The address of your {{product}} account was changed",
        "Hello {{username}},\n\nAn administrator just changed the address of your {{product}} "
        "account from {{email}} to {{new_email}}: its password resets and notices now go "
        "there.\n\nIf you did not ask for this, tell your administrator at once: whoever reads "
        "the new address can take the account.\n\n{{link}}\n\n-- \n{{product}}\n",
        page("<p>Hello {{username}},</p>\n<p>An administrator just changed the address of your "
             "{{product}} account from {{email}} to {{new_email}}: its password resets and "
             "notices now go there.</p>\n<p>If you did not ask for this, tell your "
             "administrator at once: whoever reads the new address can take the account.</p>\n" +
             button("Sign in"))}},
      {"test",
       {"{{product}} test message",
        "This is a test message from {{product}} ({{public_url}}): mail delivery works.\n",
        page("<p>This is a test message from {{product}}: mail delivery works.</p>\n")}},
  };
}

// Every {{name}} in `text` is a known placeholder; the first unknown one otherwise.
std::optional<std::string> unknownPlaceholder(std::string_view text) {
  for (std::size_t at = text.find("{{"); at != std::string_view::npos;
       at = text.find("{{", at + 2)) {
    const auto end = text.find("}}", at + 2);
    if (end == std::string_view::npos) return std::string(text.substr(at, 20));
    const auto name = text.substr(at + 2, end - at - 2);
    bool known = false;
    for (const auto p : kPlaceholders) known = known || p == name;
    if (!known) return "{{" + std::string(name) + "}}";
  }
  return std::nullopt;
}

std::string fill(std::string_view text, const Values& values, bool html) {
  std::string out;
  std::size_t pos = 0;
  for (std::size_t at = text.find("{{", pos); at != std::string_view::npos;
       at = text.find("{{", pos)) {
    const auto end = text.find("}}", at + 2);
    if (end == std::string_view::npos) break;
    out.append(text.substr(pos, at - pos));
    const auto found = values.find(text.substr(at + 2, end - at - 2));
    if (found != values.end()) out += html ? core::escapeHtml(found->second) : found->second;
    pos = end + 2;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace

core::Result<Templates> Templates::load(const std::optional<std::filesystem::path>& dir) {
  Templates t;
  for (auto& [name, parts] : builtIns()) {
    Parts p{parts[0], parts[1], parts[2]};
    if (dir) {
      for (auto [suffix, target] : {std::pair{".subject", &p.subject}, std::pair{".txt", &p.text},
                                    std::pair{".html", &p.html}}) {
        const auto path = *dir / "mail" / (name + suffix);
        auto content = core::readSmallFile(path, kMaxTemplateBytes);
        if (!content && content.error().code == core::Errc::NotFound) continue;  // the built-in
        if (!content) return core::makeError(core::Errc::InvalidArgument, content.error().message);
        *target = std::move(*content);
        if (!core::isValidUtf8(*target))
          return core::makeError(core::Errc::InvalidArgument, path.string() + ": not UTF-8");
        if (target == &p.subject) {
          while (!p.subject.empty() && (p.subject.back() == '\n' || p.subject.back() == '\r'))
            p.subject.pop_back();
          if (p.subject.find_first_of("\r\n") != std::string::npos) {
            return core::makeError(core::Errc::InvalidArgument,
                                   path.string() + ": a subject is one line");
          }
        }
        if (auto bad = unknownPlaceholder(*target)) {
          return core::makeError(core::Errc::InvalidArgument,
                                 path.string() + ": unknown placeholder " + *bad);
        }
      }
    }
    t.templates_.emplace(name, std::move(p));
  }
  return t;
}

core::Result<Rendered> Templates::render(std::string_view name, const Values& values) const {
  const auto found = templates_.find(name);
  if (found == templates_.end())
    return core::makeError(core::Errc::InvalidArgument, "no template " + std::string(name));
  Rendered r{fill(found->second.subject, values, false), fill(found->second.text, values, false),
             fill(found->second.html, values, true)};
  // A value with a line break must not split the subject (header injection).
  for (char& c : r.subject) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return r;
}

}  // namespace gatehouse::mail
