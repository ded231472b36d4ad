#include "ui/pages.hpp"

#include "ui/views.hpp"

namespace gatehouse::ui {
namespace {

// Moves #token=... into the form and out of the address bar (and of the history). The pages
// need nothing else from JavaScript.
constexpr std::string_view kScript = R"js((function () {
  "use strict";
  var match = /(?:^#|&)token=([A-Za-z0-9_-]+)/.exec(window.location.hash);
  var field = document.getElementById("token");
  if (!match || !field) return;
  field.value = match[1];
  var row = document.getElementById("token-row");
  if (row) row.hidden = true;
  window.history.replaceState(null, "", window.location.pathname);
})();
// Passkeys: a form with data-passkey ("register", "login" or "mfa") fetches its options
// (data-options), runs the browser's ceremony and posts the credential's JSON in its
// "credential" field. Without WebAuthn the forms stay hidden.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) return;
  function toBuffer(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toText(buf) {
    if (!buf) return null;
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (d) {
      return { type: d.type, id: toBuffer(d.id), transports: d.transports };
    });
  }
  function creation(o) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON)
      return PublicKeyCredential.parseCreationOptionsFromJSON(o);
    var c = Object.assign({}, o);
    c.challenge = toBuffer(o.challenge);
    c.user = Object.assign({}, o.user, { id: toBuffer(o.user.id) });
    c.excludeCredentials = descriptors(o.excludeCredentials);
    return c;
  }
  function request(o) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON)
      return PublicKeyCredential.parseRequestOptionsFromJSON(o);
    var r = Object.assign({}, o);
    r.challenge = toBuffer(o.challenge);
    r.allowCredentials = descriptors(o.allowCredentials);
    return r;
  }
  function json(cred) {
    if (cred.toJSON) return cred.toJSON();
    var r = cred.response, out = {
      clientDataJSON: toText(r.clientDataJSON)
    };
    if (r.attestationObject) {
      out.attestationObject = toText(r.attestationObject);
      out.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.authenticatorData = toText(r.authenticatorData);
      out.signature = toText(r.signature);
      out.userHandle = toText(r.userHandle);
    }
    return { id: cred.id, rawId: toText(cred.rawId), type: cred.type, response: out,
             authenticatorAttachment: cred.authenticatorAttachment || null,
             clientExtensionResults: cred.getClientExtensionResults() };
  }
  Array.prototype.forEach.call(document.querySelectorAll("form[data-passkey]"), function (form) {
    var kind = form.getAttribute("data-passkey");
    var start = form.querySelector("[data-passkey-start]");
    var problem = form.querySelector(".passkey-error");
    form.hidden = false;
    if (!start) return;
    start.addEventListener("click", function () {
      var init = { method: "POST", credentials: "same-origin", redirect: "follow" };
      if (kind === "register") {
        init.headers = { "Content-Type": "application/x-www-form-urlencoded" };
        init.body = "csrf=" + encodeURIComponent(form.elements.csrf.value);
      } else {
        init.headers = { "Content-Type": "application/json" };
        init.body = JSON.stringify(kind === "mfa" ? { mfa_token: form.elements.mfa_token.value } : {});
      }
      start.disabled = true;
      if (problem) problem.hidden = true;
      fetch(form.getAttribute("data-options"), init).then(function (res) {
        if (res.redirected) { window.location.assign(res.url); throw null; }
        if (!res.ok) throw new Error("The server refused to start (" + res.status + "). Reload the page and try again.");
        return res.json();
      }).then(function (body) {
        return kind === "register"
          ? navigator.credentials.create({ publicKey: creation(body.publicKey) })
          : navigator.credentials.get({ publicKey: request(body.publicKey) });
      }).then(function (cred) {
        form.elements.credential.value = JSON.stringify(json(cred));
        form.submit();
      }).catch(function (e) {
        start.disabled = false;
        if (e === null || !problem) return;
        problem.textContent = e && e.name === "NotAllowedError"
          ? "The passkey was not used (cancelled or timed out)."
          : (e && e.message) || "The passkey did not work.";
        problem.hidden = false;
      });
    });
  });
})();
)js";

constexpr std::string_view kStylesheet = R"css(:root { --primary: #2457c5; --background: #f5f7fa; }
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; color: #1f2933; background: var(--background);
  margin: 0; line-height: 1.45; }
header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between;
  gap: .5rem; padding: .8rem 1rem; background: #fff; border-bottom: 1px solid #d9e2ec; }
header .brand { font-weight: 700; font-size: 1.1rem; color: var(--primary); }
nav { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; }
nav form { display: inline; margin: 0; }
main { max-width: 46rem; margin: 1.5rem auto; background: #fff; padding: 1.5rem;
  border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
main.narrow { max-width: 26rem; }
section { border-top: 1px solid #e4e7eb; margin-top: 1.5rem; padding-top: .5rem; }
h1 { font-size: 1.4rem; margin-top: 0; }
h2 { font-size: 1.15rem; }
a { color: var(--primary); }
label { display: block; margin: 1rem 0 .3rem; font-weight: 600; }
input, select { width: 100%; padding: .6rem; font-size: 1rem; border: 1px solid #9aa5b1;
  border-radius: 4px; background: #fff; }
input[type=checkbox] { width: auto; margin-right: .4rem; }
label.check { font-weight: 400; margin: .3rem 0; }
button { margin-top: 1.2rem; padding: .6rem 1.2rem; font-size: 1rem; border: 0;
  border-radius: 4px; background: var(--primary); color: #fff; cursor: pointer; }
button.secondary { background: #52606d; }
button.danger { background: #a61b1b; }
button.link { background: none; color: var(--primary); padding: 0; margin: 0;
  text-decoration: underline; }
button:focus, input:focus, select:focus, a:focus { outline: 3px solid #f0b429; outline-offset: 1px; }
form.inline { display: inline; }
form.inline button { margin: 0 .3rem 0 0; padding: .35rem .8rem; font-size: .9rem; }
.error { color: #a61b1b; background: #fde8e8; padding: .6rem; border-radius: 4px; }
.notice { color: #0f5132; background: #d1e7dd; padding: .6rem; border-radius: 4px; }
.providers a { display: block; text-align: center; margin-top: .6rem; padding: .6rem;
  border: 1px solid #9aa5b1; border-radius: 4px; text-decoration: none; }
.links { margin-top: 1.2rem; display: flex; flex-wrap: wrap; gap: 1rem; }
.table { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid #e4e7eb;
  vertical-align: top; }
code, .secret { font-family: ui-monospace, monospace; word-break: break-all; }
td code { white-space: nowrap; }
.qr svg { width: 12rem; height: 12rem; display: block; }
ul.codes { columns: 2; font-family: ui-monospace, monospace; }
.chart svg { width: 100%; height: auto; }
.chart .bar { fill: var(--primary); }
.chart .axis { stroke: #9aa5b1; }
.chart text { font-size: 10px; fill: #52606d; }
.muted { color: #616e7c; font-size: .9rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
form[role=search] { display: flex; flex-wrap: wrap; align-items: flex-end; gap: .5rem; }
form[role=search] label { width: 100%; }
form[role=search] input { flex: 1; min-width: 12rem; }
form[role=search] button { margin-top: 0; }
@media (max-width: 30rem) { main { margin: 0; border-radius: 0; padding: 1rem; } }
)css";

}  // namespace

std::string tokenPage(const TokenForm& form, std::string_view brand, std::string_view csrf,
                      std::string_view error) {
  return view("token", {{"brand", brand},
                        {"title", form.title},
                        {"error", error},
                        {"intro", form.intro},
                        {"path", form.path},
                        {"button", form.button},
                        {"new_password", form.new_password},
                        {"csrf", csrf}});
}

std::string messagePage(std::string_view brand, std::string_view title, std::string_view message,
                        std::string_view link, std::string_view link_text) {
  return view("message", {{"brand", brand},
                          {"title", title},
                          {"message", message},
                          {"link", link},
                          {"link_text", link_text}});
}

std::string pageCsp(const std::vector<std::string>& return_origins) {
  std::string csp(kPageCsp);
  std::string extra;
  for (const auto& origin : return_origins) extra += " " + origin;
  const std::string directive = "form-action 'self'";
  csp.insert(csp.find(directive) + directive.size(), extra);
  return csp;
}

std::string withFormAction(std::string_view csp, std::string_view source) {
  std::string out(csp);
  const std::string directive = "form-action 'self'";
  const auto at = out.find(directive);
  if (at == std::string::npos || source.empty()) return out;
  out.insert(at + directive.size(), " " + std::string(source));
  return out;
}

std::string brandStylesheet(const Colours& colours, std::string_view extra) {
  std::string out =
      ":root { --primary: " + colours.primary + "; --background: " + colours.background + "; }\n";
  out += extra;
  return out;
}

std::optional<Asset> staticAsset(std::string_view name) {
  if (name == "gatehouse.js") return Asset{kScript, "text/javascript; charset=utf-8"};
  if (name == "gatehouse.css") return Asset{kStylesheet, "text/css; charset=utf-8"};
  return std::nullopt;
}

}  // namespace gatehouse::ui
