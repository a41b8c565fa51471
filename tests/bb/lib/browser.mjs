// browser.mjs -- a browser without script, for the black-box tests and the
// CLI's scripted browser (client_browser.mjs): a cookie jar, one request at
// a time with redirects left to the caller, the hidden fields of a form, and
// flyteauth's local-user login form filled in and submitted.
//
// It imports nothing but node:assert, so client_browser.mjs, which the CLI
// starts as $BROWSER, can use it without the server helpers.
import assert from 'node:assert/strict';

// A cookie jar for one server, fed from fetch responses. Cookies are kept
// by name only (no path or domain matching: every request goes to the one
// server); Max-Age=0 deletes one, as a browser does.
export class Jar {
  constructor() {
    this.cookies = new Map();   // name -> value
    this.lines = new Map();     // name -> its last Set-Cookie line, attributes and all
  }

  // Takes the Set-Cookie lines of res; returns res.
  update(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      this.lines.set(name, line);
      if (/;\s*Max-Age=0(;|$)/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  // The Cookie header value.
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get(name) { return this.cookies.get(name); }

  // extra plus a Cookie header when the jar holds any cookie.
  headers(extra = {}) {
    const h = { ...extra };
    if (this.cookies.size) h.cookie = this.header();
    return h;
  }
}

// One request as a browser makes it: the jar's cookies go out and the
// answer's come back into it; a redirect is returned, not followed. jar
// null: no cookies either way.
export async function browse(url, jar, init = {}) {
  const headers = jar ? jar.headers(init.headers) : { ...(init.headers || {}) };
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  return jar ? jar.update(res) : res;
}

export function unescapeHtml(s) {
  return s.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

// name -> value of every <input type="hidden"> in html, unescaped.
export function hiddenInputs(html) {
  const out = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    out[m[1]] = unescapeHtml(m[2]);
  }
  return out;
}

// The hidden fields of flyteauth's login form, asserting it has its two:
// a csrf_token and a redirect_url (which may be empty).
export function loginFields(html) {
  const fields = hiddenInputs(html);
  assert.ok(fields.csrf_token, `login form has a csrf_token: ${html.slice(0, 200)}`);
  assert.ok('redirect_url' in fields, `login form has a redirect_url: ${html.slice(0, 200)}`);
  return fields;
}

// Opens the login form at loginUrl (/login, with the redirect_url the
// server sent the browser there with) and submits it as a person does:
// the hidden fields go back as they came, with username and password.
// Returns the POST's answer; where it leads is the caller's to check.
// `go` makes each request (default browse; the CLI's scripted browser
// passes its logging one).
export async function submitLogin(loginUrl, jar, username, password, go = browse) {
  const page = await go(loginUrl, jar);
  const html = await page.text();
  assert.equal(page.status, 200, `login form: ${page.status} ${html}`);
  const fields = loginFields(html);
  return go(new URL('/login', loginUrl).href, jar, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, username, password }).toString(),
  });
}
