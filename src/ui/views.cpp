#include "ui/views.hpp"

#include <map>
#include <stdexcept>

#include "ui/template.hpp"

namespace gatehouse::ui {
namespace {

// brand, title, viewer {username, console, csrf}, content (HTML a view made)
constexpr std::string_view kLayout = R"html(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{title}} · {{brand}}</title>
<link rel="stylesheet" href="/ui/static/gatehouse.css">
<link rel="stylesheet" href="/ui/static/brand.css">
<script src="/ui/static/gatehouse.js" defer></script>
</head>
<body>
<header><span class="brand">{{brand}}</span>{{#viewer}}<nav aria-label="Main"><a href="/ui/account">{{username}}</a>{{#console}}<a href="/ui/admin">Admin</a>{{/console}}<form method="post" action="/ui/logout" id="logout-form"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="link">Sign out</button></form></nav>{{/viewer}}</header>
<main>
{{{content}}}</main>
</body></html>
)html";

// Shared openings: the heading and the notice and error boxes.
#define GH_TOP                                                                 \
  "<h1>{{title}}</h1>\n"                                                       \
  "{{#notice}}<p class=\"notice\" role=\"status\">{{notice}}</p>\n{{/notice}}" \
  "{{#error}}<p class=\"error\" role=\"alert\">{{error}}</p>\n{{/error}}"

// path, intro, button, new_password, csrf
constexpr std::string_view kToken = GH_TOP R"html(<p>{{intro}}</p>
<form method="post" action="{{path}}" id="token-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<div id="token-row"><label for="token">Code from the email</label>
<input id="token" name="token" type="text" autocomplete="off" required spellcheck="false" maxlength="128">
</div>
{{#new_password}}<label for="new_password">New password</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" required>
{{/new_password}}<button type="submit">{{button}}</button>
</form>
)html";

// message, link, link_text
constexpr std::string_view kMessage = GH_TOP R"html(<p>{{message}}</p>
{{#link}}<p><a href="{{link}}">{{link_text}}</a></p>
{{/link}})html";

// csrf, return_to, username, providers [{name, label, href}], registration, passkeys
constexpr std::string_view kLogin =
    GH_TOP R"html(<form method="post" action="/ui/login" id="login-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<input type="hidden" name="return_to" value="{{return_to}}">
<label for="username">Email or username</label>
<input id="username" name="username" type="text" autocomplete="username" value="{{username}}" required autocapitalize="none" spellcheck="false" maxlength="320">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
{{#providers.0}}<div class="providers" role="group" aria-label="Other ways to sign in">
{{#providers}}<a href="{{href}}" id="provider-{{name}}">Sign in with {{label}}</a>
{{/providers}}</div>
{{/providers.0}}{{#passkeys}}<form method="post" action="/ui/login/passkey" id="passkey-signin-form" data-passkey="login" data-options="/api/v1/auth/webauthn/login/options" hidden>
<input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="return_to" value="{{return_to}}"><input type="hidden" name="credential" value="">
<button type="button" id="passkey-signin" class="secondary" data-passkey-start>Sign in with a passkey</button>
<p class="error passkey-error" role="alert" hidden></p>
</form>
{{/passkeys}}<p class="links">{{#registration}}<a href="/ui/register">Create an account</a>{{/registration}}<a href="/ui/forgot-password">Forgot your password?</a></p>
)html";

// csrf, mfa_token, return_to, passkey (the user has one), totp (the user has a TOTP factor)
constexpr std::string_view kMfa = GH_TOP
    R"html({{#passkey}}<form method="post" action="/ui/login/mfa/passkey" id="passkey-mfa-form" data-passkey="mfa" data-options="/api/v1/auth/webauthn/mfa/options" hidden>
<input type="hidden" name="csrf" value="{{csrf}}">
<input type="hidden" name="mfa_token" value="{{mfa_token}}"><input type="hidden" name="return_to" value="{{return_to}}"><input type="hidden" name="credential" value="">
<button type="button" id="passkey-mfa" data-passkey-start>Use your passkey</button>
<p class="error passkey-error" role="alert" hidden></p>
</form>
{{/passkey}}<p>Enter {{#totp}}the code from your authenticator app, or {{/totp}}one of your recovery codes.</p>
<form method="post" action="/ui/login/mfa" id="mfa-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<input type="hidden" name="mfa_token" value="{{mfa_token}}"><input type="hidden" name="return_to" value="{{return_to}}">
<label for="code">Code</label>
<input id="code" name="code" type="text" autocomplete="one-time-code" required autocapitalize="none" spellcheck="false" maxlength="64">
<button type="submit">Verify</button>
</form>
<p class="links"><a href="/ui/login">Start again</a></p>
)html";

// csrf, email, username
constexpr std::string_view kRegister =
    GH_TOP R"html(<form method="post" action="/ui/register" id="register-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" value="{{email}}" required maxlength="320">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" value="{{username}}" required autocapitalize="none" spellcheck="false" maxlength="64">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required>
<button type="submit">Create the account</button>
</form>
<p class="links"><a href="/ui/login">I have an account</a></p>
)html";

// csrf
constexpr std::string_view kForgot =
    GH_TOP R"html(<p>Enter your account's email address and we will send you a link.</p>
<form method="post" action="/ui/forgot-password" id="forgot-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" required maxlength="320">
<button type="submit">Send the link</button>
</form>
<p class="links"><a href="/ui/login">Sign in</a></p>
)html";

// csrf
constexpr std::string_view kLogout = GH_TOP R"html(<p>Sign out of {{brand}} in this browser?</p>
<form method="post" action="/ui/logout" id="logout-confirm-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<button type="submit">Sign out</button>
</form>
)html";

// csrf, client, destination (where the answer is sent: an origin, or an application's scheme),
// scopes [{name, text}], fields [{name, value}] (the authorization request, posted back whole and
// checked again)
constexpr std::string_view kConsent =
    GH_TOP R"html(<p><strong>{{client}}</strong> asks to use your {{brand}} account.</p>
<p>It will be able to:</p>
<ul class="scopes">
{{#scopes}}<li><span class="scope">{{text}}</span> <code>{{name}}</code></li>
{{/scopes}}</ul>
{{#destination}}<p>Either way you are sent to <code id="consent-destination">{{destination}}</code>.</p>
{{/destination}}
<form method="post" action="/ui/consent" id="consent-form">
<input type="hidden" name="csrf" value="{{csrf}}">
{{#fields}}<input type="hidden" name="{{name}}" value="{{value}}">
{{/fields}}<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>
)html";

// csrf, client, fields [{name, value}]
constexpr std::string_view kOpLogout = GH_TOP
    R"html(<p>{{#client}}{{client}} asks you to sign out of {{brand}}.{{/client}}{{^client}}Sign out of {{brand}} in this browser?{{/client}}</p>
<form method="post" action="/oauth2/logout" id="op-logout-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<input type="hidden" name="confirm" value="yes">
{{#fields}}<input type="hidden" name="{{name}}" value="{{value}}">
{{/fields}}<button type="submit">Sign out</button>
</form>
)html";

// A time: {iso, text}.
#define GH_TIME "<time datetime=\"{{iso}}\">{{text}}</time>"

// csrf, user {username, email, verified, role, created}, mfa_enabled, factors [{id, name,
// created, last_used}] (TOTP), passkeys_on, passkeys [{id, name, kind, created, last_used}],
// recovery_left, sessions [{id, user_agent, ip, created, last_used,
// current}], keys [{id, name, prefix, scopes, created, expires, last_used}], permissions [],
// identities [{id, provider, email, created}], providers [{name, label}]
constexpr std::string_view kAccount = GH_TOP
    R"html(<section id="profile" aria-labelledby="profile-title"><h2 id="profile-title">Profile</h2>
{{#user}}<dl><dt>Username</dt><dd id="profile-username">{{username}}</dd><dt>Email</dt><dd id="profile-email">{{email}}{{#verified}} (verified){{/verified}}{{^verified}} (not verified){{/verified}}</dd><dt>Role</dt><dd id="profile-role">{{role}}</dd><dt>Member since</dt><dd>{{#created}})html" GH_TIME
    R"html({{/created}}</dd></dl>
{{/user}}</section>
<section id="password" aria-labelledby="password-title"><h2 id="password-title">Password</h2>
<form method="post" action="/ui/account/password" id="password-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<input type="text" name="username" autocomplete="username" value="{{user.username}}" hidden>
<label for="current_password">Current password</label>
<input id="current_password" name="current_password" type="password" autocomplete="current-password" required>
<label for="new_password">New password</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" required>
{{#mfa_enabled}}<label for="code">Code from your authenticator app</label>
<input id="code" name="code" type="text" autocomplete="one-time-code" required maxlength="64">
{{/mfa_enabled}}<label class="check"><input type="checkbox" name="keep_api_keys" value="true">Keep my API keys working</label>
<button type="submit">Change the password</button>
</form>
<p>Changing the password signs you out everywhere.</p>
</section>
<section id="email" aria-labelledby="email-title"><h2 id="email-title">Email</h2>
{{^user.verified}}<p>Your address {{user.email}} is not verified yet.</p>
<form method="post" action="/ui/account/email/verify" id="email-verify-form" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Send a verification link</button></form>{{/user.verified}}<form method="post" action="/ui/account/email" id="email-change-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<label for="new_email">New email address</label>
<input id="new_email" name="new_email" type="email" autocomplete="email" required maxlength="254">
<button type="submit" class="secondary">Change the address</button>
</form>
</section>
<section id="mfa" aria-labelledby="mfa-title"><h2 id="mfa-title">Second factor</h2>
{{^mfa_enabled}}<p>No second factor yet.</p>
{{/mfa_enabled}}{{#factors.0}}<div class="table"><table id="factors-table"><thead><tr><th>Name</th><th>Added</th><th>Last used</th><th></th></tr></thead><tbody>
{{#factors}}<tr data-factor-id="{{id}}"><td>{{name}}</td><td>{{#created}})html" GH_TIME
    R"html({{/created}}</td><td>{{#last_used}})html" GH_TIME
    R"html({{/last_used}}{{^last_used}}never{{/last_used}}</td><td><form method="post" action="/ui/account/mfa/{{id}}/remove" id="factor-remove-{{id}}" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger" aria-label="Remove the authenticator app {{name}}">Remove</button></form></td></tr>
{{/factors}}</tbody></table></div>
{{/factors.0}}{{#mfa_enabled}}<p id="recovery-codes-left">Recovery codes left: {{recovery_left}}</p>
<form method="post" action="/ui/account/mfa/recovery-codes" id="recovery-codes-form" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="secondary">Make new recovery codes</button></form>{{/mfa_enabled}}<form method="post" action="/ui/account/mfa/totp" id="totp-enrol-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<label for="factor-name">Name of the app (optional)</label>
<input id="factor-name" name="name" type="text" autocomplete="off" maxlength="64">
<button type="submit">Add an authenticator app</button>
</form>
</section>
{{#passkeys_on}}<section id="passkeys" aria-labelledby="passkeys-title"><h2 id="passkeys-title">Passkeys</h2>
<p>A passkey signs you in without a password, and serves as your second factor after one.</p>
{{#passkeys.0}}<div class="table"><table id="passkeys-table"><thead><tr><th>Name</th><th>Kind</th><th>Added</th><th>Last used</th><th></th></tr></thead><tbody>
{{#passkeys}}<tr data-passkey-id="{{id}}"><td><form method="post" action="/ui/account/passkeys/{{id}}/rename" id="passkey-rename-{{id}}" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input name="name" value="{{name}}" maxlength="64" required aria-label="Name of the passkey {{name}}"><button type="submit" class="secondary">Rename</button></form></td><td>{{kind}}</td><td>{{#created}})html" GH_TIME
    R"html({{/created}}</td><td>{{#last_used}})html" GH_TIME
    R"html({{/last_used}}{{^last_used}}never{{/last_used}}</td><td><form method="post" action="/ui/account/passkeys/{{id}}/remove" id="passkey-remove-{{id}}" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger" aria-label="Remove the passkey {{name}}">Remove</button></form></td></tr>
{{/passkeys}}</tbody></table></div>
{{/passkeys.0}}<form method="post" action="/ui/account/passkeys" id="passkey-add-form" data-passkey="register" data-options="/ui/account/passkeys/options" hidden>
<input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="credential" value="">
<label for="passkey-name">Name of the passkey (optional)</label>
<input id="passkey-name" name="name" type="text" autocomplete="off" maxlength="64">
<button type="button" id="passkey-add" data-passkey-start>Add a passkey</button>
<p class="error passkey-error" role="alert" hidden></p>
</form>
<noscript><p class="muted">Adding a passkey needs JavaScript.</p></noscript>
</section>
{{/passkeys_on}}<section id="sessions" aria-labelledby="sessions-title"><h2 id="sessions-title">Sessions</h2>
<div class="table"><table id="sessions-table"><thead><tr><th>Device</th><th>Address</th><th>Started</th><th>Last used</th><th></th></tr></thead><tbody>
{{#sessions}}<tr data-session-id="{{id}}"{{#current}} class="current"{{/current}}><td>{{user_agent}}{{#current}} <strong>(this browser)</strong>{{/current}}</td><td>{{ip}}</td><td>{{#created}})html" GH_TIME
    R"html({{/created}}</td><td>{{#last_used}})html" GH_TIME
    R"html({{/last_used}}</td><td><form method="post" action="/ui/account/sessions/{{id}}/end" id="session-end-{{id}}" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger" aria-label="End the session of {{user_agent}} from {{ip}}">{{#current}}Sign out{{/current}}{{^current}}End{{/current}}</button></form></td></tr>
{{/sessions}}</tbody></table></div>
</section>
<section id="api-keys" aria-labelledby="api-keys-title"><h2 id="api-keys-title">API keys</h2>
{{#keys.0}}<div class="table"><table id="api-keys-table"><thead><tr><th>Name</th><th>Prefix</th><th>Scopes</th><th>Created</th><th>Expires</th><th>Last used</th><th></th></tr></thead><tbody>
{{#keys}}<tr data-api-key-id="{{id}}"><td>{{name}}</td><td><code>{{prefix}}</code></td><td>{{scopes}}</td><td>{{#created}})html" GH_TIME
    R"html({{/created}}</td><td>{{#expires}})html" GH_TIME
    R"html({{/expires}}{{^expires}}never{{/expires}}</td><td>{{#last_used}})html" GH_TIME
    R"html({{/last_used}}{{^last_used}}never{{/last_used}}</td><td><form method="post" action="/ui/account/api-keys/{{id}}/revoke" id="api-key-revoke-{{id}}" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger" aria-label="Revoke the API key {{name}}">Revoke</button></form></td></tr>
{{/keys}}</tbody></table></div>
{{/keys.0}}<form method="post" action="/ui/account/api-keys" id="api-key-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<label for="api-key-name">Name</label>
<input id="api-key-name" name="name" type="text" autocomplete="off" required maxlength="100">
<fieldset><legend>Scopes (none ticked: all of yours)</legend>
{{#permissions}}<label class="check"><input type="checkbox" name="scopes" value="{{.}}">{{.}}</label>
{{/permissions}}</fieldset>
<label for="expires_in_days">Expires after (days, optional)</label>
<input id="expires_in_days" name="expires_in_days" type="number" autocomplete="off" min="1" max="3650">
<button type="submit">Create an API key</button>
</form>
</section>
<section id="identities" aria-labelledby="identities-title"><h2 id="identities-title">Linked sign-in</h2>
{{^identities}}<p>No external sign-in is linked to this account.</p>
{{/identities}}{{#identities.0}}<div class="table"><table id="identities-table"><thead><tr><th>Provider</th><th>Email</th><th>Linked</th><th></th></tr></thead><tbody>
{{#identities}}<tr data-identity-id="{{id}}"><td>{{provider}}</td><td>{{email}}</td><td>{{#created}})html" GH_TIME
    R"html({{/created}}</td><td><form method="post" action="/ui/account/identities/{{id}}/unlink" id="identity-unlink-{{id}}" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger" aria-label="Unlink {{provider}} {{email}}">Unlink</button></form></td></tr>
{{/identities}}</tbody></table></div>
{{/identities.0}}{{#providers.0}}<div class="providers" role="group" aria-label="Link a way to sign in">
{{#providers}}<form method="post" action="/ui/account/identities/link/{{name}}" id="identity-link-{{name}}" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Link {{label}}</button></form>
{{/providers}}</div>
{{/providers.0}}</section>
)html";

#define GH_BACK "<p class=\"links\"><a href=\"/ui/account#mfa\">Back to your account</a></p>\n"

// csrf, id, qr_svg (the QR code's SVG, made by mfa::qrSvg), secret
constexpr std::string_view kTotp = GH_TOP
    R"html(<p>Scan this code with your authenticator app, or type the key into it. Then enter the code the app shows.</p>
<div class="qr" id="totp-qr" role="img" aria-label="QR code of the key">{{{qr_svg}}}</div>
<p>Key: <code id="totp-secret" class="secret">{{secret}}</code></p>
<form method="post" action="/ui/account/mfa/totp/{{id}}/confirm" id="totp-confirm-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<label for="code">Code from the app</label>
<input id="code" name="code" type="text" autocomplete="one-time-code" required inputmode="numeric" maxlength="64">
<button type="submit">Confirm</button>
</form>
)html" GH_BACK;

// codes [], replaced
constexpr std::string_view kCodes = GH_TOP
    R"html(<p>Keep these recovery codes somewhere safe: each signs you in once if you lose your authenticator app. They are shown only now.{{#replaced}} The earlier codes no longer work.{{/replaced}}</p>
<ul id="recovery-codes" class="codes">{{#codes}}<li><code>{{.}}</code></li>{{/codes}}</ul>
)html" GH_BACK;

// key
constexpr std::string_view kNewKey =
    GH_TOP R"html(<p>Copy the key now: it is shown only once. Send it in the X-API-Key header.</p>
<p><code id="new-api-key" class="secret">{{key}}</code></p>
)html" GH_BACK;

// users {q, rows [{id, email, username, role, active, mfa, verified}], prev, next, error},
// analytics {total, days, ok, failed, active, chart (SVG from the "chart" fragment), error}
constexpr std::string_view kConsole = GH_TOP
    R"html({{#users}}<section id="users" aria-labelledby="users-title"><h2 id="users-title">Users</h2>
{{#error}}<p class="error" role="alert">{{error}}</p>
{{/error}}{{^error}}<form method="get" action="/ui/admin" id="user-search-form" role="search"><label for="q">Find users by email or username</label><input id="q" name="q" type="search" maxlength="254" value="{{q}}"><button type="submit">Search</button></form>
<div class="table"><table id="users-table"><thead><tr><th>Email</th><th>Username</th><th>Role</th><th>Active</th><th>Second factor</th><th>Verified</th><th></th></tr></thead><tbody>
{{#rows}}<tr data-user-id="{{id}}"><td>{{email}}</td><td>{{username}}</td><td>{{role}}</td><td>{{active}}</td><td>{{mfa}}</td><td>{{verified}}</td><td><a href="/ui/admin/users/{{id}}" id="manage-{{id}}">Manage</a></td></tr>
{{/rows}}</tbody></table></div>
<p class="links">{{#prev}}<a href="{{prev}}" rel="prev">Previous</a>{{/prev}}{{#next}}<a href="{{next}}" rel="next">Next</a>{{/next}}</p>
{{/error}}</section>
{{/users}}{{#analytics}}<section id="analytics" aria-labelledby="analytics-title"><h2 id="analytics-title">Activity</h2>
{{#error}}<p class="error" role="alert">{{error}}</p>
{{/error}}{{^error}}<dl id="analytics-summary"><dt>Users</dt><dd>{{total}}</dd><dt>Sign-ins ({{days}} days)</dt><dd>{{ok}}</dd><dt>Failed sign-ins</dt><dd>{{failed}}</dd><dt>Active users</dt><dd>{{active}}</dd></dl>
<div class="chart" id="registrations-chart">{{{chart}}}</div>
<p class="links"><a href="/ui/admin/audit">The audit log</a></p>
{{/error}}</section>
{{/analytics}})html";

// csrf, user {id, username, email, role, active, mfa, verified, created}, reachable, own, can_role,
// roles [{name, selected}], is_active, mfa_enabled, can_audit
constexpr std::string_view kUser = GH_TOP
    R"html({{#user}}<dl id="user-details"><dt>Email</dt><dd>{{email}}</dd><dt>Role</dt><dd id="user-role">{{role}}</dd><dt>Active</dt><dd id="user-active">{{active}}</dd><dt>Second factor</dt><dd>{{mfa}}</dd><dt>Email verified</dt><dd>{{verified}}</dd><dt>Created</dt><dd>{{#created}})html" GH_TIME
    R"html({{/created}}</dd></dl>
{{/user}}{{^reachable}}{{#own}}<p id="own-account">This is your own account: change it on <a href="/ui/account">your account page</a>.</p>{{/own}}{{^own}}<p>This account holds permissions you do not have: you cannot change it.</p>{{/own}}
{{/reachable}}{{#reachable}}{{#can_role}}<section id="role-section"><h2>Role</h2><form method="post" action="/ui/admin/users/{{user.id}}/role" id="role-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<label for="role">Role</label><select id="role" name="role">{{#roles}}<option value="{{name}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/roles}}</select>
<button type="submit">Set the role</button>
</form>
</section>
{{/can_role}}<section id="actions"><h2>Account</h2><div class="actions"><form method="post" action="/ui/admin/users/{{user.id}}/active" id="active-form" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">{{#is_active}}<input type="hidden" name="is_active" value="false"><button type="submit" class="danger">Deactivate the account</button>{{/is_active}}{{^is_active}}<input type="hidden" name="is_active" value="true"><button type="submit">Activate the account</button>{{/is_active}}</form><form method="post" action="/ui/admin/users/{{user.id}}/sessions-end" id="sessions-end-form" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="secondary">End every session</button></form>{{#mfa_enabled}}<form method="post" action="/ui/admin/users/{{user.id}}/mfa-reset" id="mfa-reset-form" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Remove the second factor</button></form>{{/mfa_enabled}}</div></section>
<section id="password-section"><h2>Password</h2><form method="post" action="/ui/admin/users/{{user.id}}/password" id="set-password-form">
<input type="hidden" name="csrf" value="{{csrf}}">
<label for="new_password">New password</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" required>
<label class="check"><input type="checkbox" name="keep_api_keys" value="true">Keep the user's API keys working</label>
<button type="submit">Set the password</button>
</form>
</section>
{{/reachable}}<p class="links"><a href="/ui/admin">All users</a>{{#can_audit}}<a href="/ui/admin/audit?user_id={{user.id}}">Its audit trail</a>{{/can_audit}}</p>
)html";

// type, user_id, since, rows [{time, type, actor, subject, ip, detail}], older (the next page's
// query, when the page is full)
constexpr std::string_view kAudit = GH_TOP
    R"html(<form method="get" action="/ui/admin/audit" id="audit-filter-form"><label for="type">Event type</label>
<input id="type" name="type" type="text" autocomplete="off" value="{{type}}" maxlength="64" placeholder="login.failed">
<label for="user_id">User id</label>
<input id="user_id" name="user_id" type="number" autocomplete="off" value="{{user_id}}">
<label for="since">Since (RFC 3339 or Unix seconds)</label>
<input id="since" name="since" type="text" autocomplete="off" value="{{since}}" maxlength="32">
<button type="submit">Filter</button></form>
{{^error}}<div class="table"><table id="audit-table"><thead><tr><th>Time</th><th>Event</th><th>Actor</th><th>Subject</th><th>Address</th><th>Detail</th></tr></thead><tbody>
{{#rows}}<tr><td>{{#time}})html" GH_TIME
    R"html({{/time}}</td><td>{{type}}</td><td>{{actor}}</td><td>{{subject}}</td><td>{{ip}}</td><td><code>{{detail}}</code></td></tr>
{{/rows}}</tbody></table></div>
{{/error}}<p class="links">{{#older}}<a id="audit-older" href="/ui/admin/audit?{{older}}">Older events</a>{{/older}}<a href="/ui/admin">Administration</a></p>
)html";

// title, bars [{x, y, width, height, label, value}], peak, first, last, axis_y, label_y, plot_right
constexpr std::string_view kChart =
    R"svg(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 160" role="img" aria-labelledby="chart-title"><title id="chart-title">{{title}}</title><line class="axis" x1="30" y1="{{axis_y}}" x2="596" y2="{{axis_y}}"/><text x="2" y="18">{{peak}}</text>{{#bars}}<rect class="bar" x="{{x}}" y="{{y}}" width="{{width}}" height="{{height}}"><title>{{label}}: {{value}}</title></rect>{{/bars}}{{#first}}<text x="30" y="156">{{first}}</text><text x="596" y="156" text-anchor="end">{{last}}</text>{{/first}}</svg>)svg";

#undef GH_TOP
#undef GH_TIME
#undef GH_BACK

struct Registry {
  Template layout;
  std::map<std::string, Template, std::less<>> views;
};

const Registry& registry() {
  static const Registry r = [] {
    const auto parse = [](std::string_view name, std::string_view text) {
      auto t = Template::parse(text);
      if (!t) throw std::logic_error("view " + std::string(name) + ": " + t.error().message);
      return std::move(*t);
    };
    Registry out{parse("layout", kLayout), {}};
    for (const auto& [name, text] :
         std::initializer_list<std::pair<std::string_view, std::string_view>>{
             {"token", kToken},
             {"message", kMessage},
             {"login", kLogin},
             {"mfa", kMfa},
             {"register", kRegister},
             {"forgot", kForgot},
             {"logout", kLogout},
             {"consent", kConsent},
             {"op-logout", kOpLogout},
             {"account", kAccount},
             {"totp", kTotp},
             {"codes", kCodes},
             {"new-key", kNewKey},
             {"console", kConsole},
             {"user", kUser},
             {"audit", kAudit},
             {"chart", kChart}}) {
      out.views.emplace(std::string(name), parse(name, text));
    }
    return out;
  }();
  return r;
}

const Template& find(std::string_view name) {
  const auto& views = registry().views;
  const auto it = views.find(name);
  if (it == views.end()) throw std::logic_error("no view " + std::string(name));
  return it->second;
}

}  // namespace

std::string fragment(std::string_view name, const boost::json::object& data) {
  return find(name).render(data);
}

std::string view(std::string_view name, boost::json::object data) {
  std::string content = find(name).render(data);
  data["content"] = std::move(content);
  return registry().layout.render(data);
}

std::vector<std::string_view> viewNames() {
  std::vector<std::string_view> out;
  for (const auto& [name, t] : registry().views) out.emplace_back(name);
  return out;
}

}  // namespace gatehouse::ui
