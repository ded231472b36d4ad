// A person's browser, as far as the relying-party scripts need one: Node's fetch with manual
// redirects and a cookie jar for one host, driving Gatehouse's portal (the /ui/login form, the
// consent form) from an authorization URL to the registered redirect URI. Nothing here speaks
// OAuth: the libraries under test do that (rp_openid_client.mjs, rp_oauth4webapi.mjs).

// What the scripts are given (tests/integration/test_op_interop.py sets these).
export function settings() {
  const need = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set`);
    return v;
  };
  return {
    issuer: need('GH_ISSUER'),
    clientId: need('GH_CLIENT_ID'),
    clientSecret: need('GH_CLIENT_SECRET'),
    redirectUri: need('GH_REDIRECT_URI'),
    postLogoutRedirectUri: need('GH_POST_LOGOUT_REDIRECT_URI'),
    username: need('GH_USERNAME'),
    password: need('GH_PASSWORD'),
    // client_secret_basic (default) or client_secret_post
    clientAuth: process.env.GH_CLIENT_AUTH || 'client_secret_basic',
  };
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function unescapeHtml(text) {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (all, e) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? all;
  });
}

// The form with this id: its action and its hidden inputs (names and values unescaped).
export function formOf(html, id) {
  const start = html.search(new RegExp(`<form[^>]*id="${id}"`));
  if (start < 0) return null;
  const end = html.indexOf('</form>', start);
  const form = html.slice(start, end < 0 ? undefined : end);
  const action = unescapeHtml(/action="([^"]*)"/.exec(form)[1]);
  const fields = {};
  for (const m of form.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(m[0]);
    const value = /value="([^"]*)"/.exec(m[0]);
    if (name) fields[unescapeHtml(name[1])] = value ? unescapeHtml(value[1]) : '';
  }
  return { action, fields };
}

export class Browser {
  constructor(origin) {
    this.origin = new URL(origin).origin;
    this.cookies = new Map();
    this.trail = []; // [{method, url, status, location?, csp?}]
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  keep(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(method, url, form) {
    const u = new URL(url, this.origin);
    if (u.origin !== this.origin) throw new Error(`the browser was sent off the portal: ${u}`);
    const headers = { Accept: 'text/html' };
    if (this.cookies.size) headers.Cookie = this.cookieHeader();
    let body;
    if (form) {
      body = new URLSearchParams(form).toString();
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      headers.Origin = this.origin; // as a browser posting a same-origin form
    }
    const res = await fetch(u, { method, headers, body, redirect: 'manual' });
    this.keep(res);
    const step = { method, url: u.pathname, status: res.status };
    if (res.headers.get('location')) step.location = res.headers.get('location');
    if (res.headers.get('content-security-policy')) step.csp = res.headers.get('content-security-policy');
    this.trail.push(step);
    return res;
  }

  // From `url` (the authorization request, or the end-session URL) through the portal's pages
  // until a redirect leaves the portal; returns {url, pages} where url is that redirect's target
  // (the client's redirect URI with code or error) and pages the portal pages shown on the way.
  async follow(url, { username, password, decision = 'allow', stopAt }) {
    const pages = [];
    let res = await this.request('GET', url);
    for (let hops = 0; hops < 20; hops++) {
      if ([301, 302, 303, 307, 308].includes(res.status)) {
        const next = new URL(res.headers.get('location'), this.origin);
        if (next.origin !== this.origin || (stopAt && next.href.startsWith(stopAt))) {
          return { url: next.href, status: res.status, pages };
        }
        res = await this.request('GET', next.href);
        continue;
      }
      const html = await res.text();
      if (res.status !== 200) {
        throw new Error(`portal answered ${res.status} at ${this.trail.at(-1).url}: ${html.slice(0, 500)}`);
      }
      const login = formOf(html, 'login-form');
      const consent = formOf(html, 'consent-form');
      if (login) {
        pages.push({ page: 'login', csp: res.headers.get('content-security-policy') });
        if (!username) throw new Error('the portal asked for a sign-in');
        res = await this.request('POST', login.action, { ...login.fields, username, password });
        continue;
      }
      if (consent) {
        pages.push({ page: 'consent', csp: res.headers.get('content-security-policy'), html });
        res = await this.request('POST', consent.action, { ...consent.fields, decision });
        continue;
      }
      throw new Error(`an unexpected page at ${this.trail.at(-1).url}: ${html.slice(0, 500)}`);
    }
    throw new Error('too many redirects');
  }
}

// The CSP form-action sources of a page's policy.
export function formAction(csp) {
  const m = /(?:^|;)\s*form-action\s+([^;]*)/.exec(csp || '');
  return m ? m[1].trim().split(/\s+/) : [];
}

// Whether a policy's form-action lets a form go to `uri` (CSP3 source matching, enough of it:
// an origin, or an origin with a path, exact or ending in '/').
export function formActionAllows(csp, uri) {
  const target = new URL(uri);
  return formAction(csp).some((src) => {
    if (src === "'self'" || src.startsWith("'")) return false;
    let u;
    try {
      u = new URL(src);
    } catch {
      return false;
    }
    if (u.origin !== target.origin) return false;
    if (!/^[a-z]+:\/\/[^/]+\//i.test(src)) return true; // no path: the whole origin
    return u.pathname.endsWith('/') ? target.pathname.startsWith(u.pathname) : target.pathname === u.pathname;
  });
}

export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

// Runs `steps` (an async function given `record(name, detail)`), prints the JSON summary and
// exits 0, or prints the failure (with the library's error fields) and exits 1.
export async function run(library, steps) {
  const summary = { library, steps: [] };
  const record = (name, detail = {}) => summary.steps.push({ step: name, ...detail });
  try {
    await steps(record);
    summary.ok = true;
    console.log(JSON.stringify(summary, null, 1));
    process.exit(0);
  } catch (e) {
    summary.ok = false;
    summary.error = {
      name: e?.name,
      message: e?.message,
      code: e?.code,
      error: e?.error,
      error_description: e?.error_description,
      status: e?.status,
      cause: e?.cause instanceof Error ? { name: e.cause.name, message: e.cause.message, code: e.cause.code }
        : e?.cause,
      stack: e?.stack?.split('\n').slice(0, 6).join('\n'),
    };
    console.log(JSON.stringify(summary, null, 1));
    process.exit(1);
  }
}
