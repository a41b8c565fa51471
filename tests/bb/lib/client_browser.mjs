#!/usr/bin/env node
// client_browser.mjs URL -- a scripted browser for the CLI's Pkce flow.
// `flyteauth login` runs $BROWSER with the authorize URL; this follows it
// the way a browser would: the authorize redirect, flyteauth's local-user
// login form (GET /login for the csrf_token and cookie, POST /login with
// username, password and csrf_token), the authorize callback, and finally
// the redirect to the CLI's loopback listener, whose answer it checks.
// BB_USER / BB_PASSWORD choose the user; BB_BROWSER_LOG (a file) receives
// one line per step for the test to read. Exit 0 when the CLI's listener
// answered 200.
import { appendFileSync } from 'node:fs';

import { Jar, browse, submitLogin } from './browser.mjs';

const start = process.argv[2];
const user = process.env.BB_USER ?? 'alice';
const password = process.env.BB_PASSWORD ?? '';
const logFile = process.env.BB_BROWSER_LOG;

function log(line) {
  if (logFile) appendFileSync(logFile, `${line}\n`);
}

const jar = new Jar();

// One request, logged. Cookies belong to the server, never to the CLI's
// loopback listener.
async function step(url, j, init = {}) {
  const u = new URL(url);
  const res = await browse(url, u.pathname === '/callback' ? null : j, init);
  log(`${init.method || 'GET'} ${u.origin}${u.pathname} -> ${res.status}`);
  return res;
}

async function main() {
  let res = await step(start, jar);
  let loc = new URL(res.headers.get('location'), start);
  if (loc.pathname === '/login') {
    res = await submitLogin(loc, jar, user, password, step);
    if (![302, 303].includes(res.status)) throw new Error(`login answered ${res.status}`);
    loc = new URL(res.headers.get('location'), loc);
    res = await step(loc.href, jar);
    loc = new URL(res.headers.get('location'), loc);
  }
  // The last hop: the CLI's listener on the redirect URI.
  res = await step(loc.href, jar);
  const body = await res.text();
  log(`listener said: ${body.replace(/<[^>]*>/g, '').trim()}`);
  process.exit(res.status === 200 ? 0 : 1);
}

main().catch((e) => {
  log(`browser failed: ${e.message}`);
  process.exit(2);
});
