// server.mjs -- start the real `flyteauth serve` on a loopback port for a
// black-box test, and stop it by its PID. Every process started here is
// stopped by the test that started it (see stop()).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appendLog, logPath, recordFile, recordSecret, scanning } from './secret_scan.mjs';

export const BIN = process.env.FLYTEAUTH_BIN;
export const BUILD = process.env.FLYTEAUTH_BUILD;
if (!BIN) throw new Error('FLYTEAUTH_BIN is not set (run through `make test`)');

// Every temp dir a test file makes is removed when its process exits, so
// none is left behind (they hold generated keys and databases).
const made = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'fa-bb-') {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// `serve` refuses to run as root without --allow-root; the test suite runs
// as root in CI (and in containers), so every serve a test starts through
// this library gets the flag then. The refusal itself is tested without it
// (serve.test.mjs, spawning the binary directly).
export const AS_ROOT = process.getuid?.() === 0;
export function serveArgv(args) {
  if (AS_ROOT && args[0] === 'serve' && !args.includes('--allow-root')) {
    return ['serve', '--allow-root', ...args.slice(1)];
  }
  return args;
}

// The log scan (secret_scan.mjs): secrets handed to a process through
// FLYTE_SECRET_* variables are recorded.
function recordEnv(env) {
  for (const [k, v] of Object.entries(env)) if (k.startsWith('FLYTE_SECRET_')) recordFile(`secret ${k}`, v);
}

// Runs the binary to completion: { code, stdout, stderr }. Its stderr (its
// log) is kept for the log scan; stdout is where commands print what they
// were asked for (`flyteauth token` prints a token).
export function run(args, { env = {}, input, cwd, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    recordEnv(env);
    if (input !== undefined && args[0] === 'hash-secret') recordSecret('password', String(input).trim());
    const child = spawn(BIN, serveArgv(args), { env: { ...process.env, ...env }, cwd });
    const log = logPath(args.slice(0, 2).join('-'));
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; appendLog(log, d); });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

// Starts `flyteauth serve`. `config` is YAML text (PORT is replaced by the
// chosen port, DIR by a fresh temp dir); with config === null the server
// runs on its embedded defaults with HOME pointed at the temp dir, on a free
// port given by FLYTEAUTH_LISTEN (so a `make run` on 8088 does not matter).

// With config, the four server secrets are generated into DIR first
// (`secrets: false` skips that). `port` restarts a server on the port (and
// so the issuer) it had. `exec` names a program that execs flyteauth in
// its own process (`['taskset', '-c', '0']`): the PID stays the server's.
export async function startServer({ config = null, env = {}, files = {}, args = [], secrets = true,
  port = null, exec = [] } = {}) {
  const dir = tempDir();
  if (config !== null && secrets) {
    const r = await run(['secrets', 'init', '-p', dir]);
    if (r.code !== 0) throw new Error(`secrets init: ${r.stderr}`);
  }
  port ??= await freePort();
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), content, { mode: 0o600 });
  }
  for (const [name, content] of Object.entries(files)) recordFile(`server secret ${name}`, content);
  if (scanning && config !== null && secrets) recordSecretFiles(dir);
  recordEnv(env);
  const argv = ['serve', ...args];
  if (config !== null) {
    const cfgPath = path.join(dir, 'config.yaml');
    writeFileSync(cfgPath, config.replaceAll('PORT', String(port)).replaceAll('DIR', dir));
    argv.push('--config', cfgPath);
  }
  const listen = config === null ? { FLYTEAUTH_LISTEN: `127.0.0.1:${port}` } : {};
  const cmd = [...exec, BIN, ...serveArgv(argv)];
  const child = spawn(cmd[0], cmd.slice(1), {
    env: { ...process.env, HOME: dir, XDG_STATE_HOME: path.join(dir, 'state'), ...listen, ...env },
    cwd: dir,
  });
  const srv = {
    dir, port, child, pid: child.pid, stdout: '', stderr: '', exited: null,
    url: `http://127.0.0.1:${port}`,
  };
  // Its log (stderr) is kept for the log scan; stdout carries a first
  // start's credentials, printed once by design.
  srv.logFile = logPath('serve');
  child.stdout.on('data', (d) => {
    srv.stdout += d;
    for (const m of srv.stdout.matchAll(/^(password|secret|client secret): (\S+)$/gm)) {
      recordSecret(`first-start ${m[1]}`, m[2]);
    }
  });
  child.stderr.on('data', (d) => { srv.stderr += d; appendLog(srv.logFile, d); });
  srv.exitPromise = new Promise((resolve) => {
    child.on('close', (code, signal) => { srv.exited = { code, signal }; resolve(srv.exited); });
  });
  srv.stop = async (signal = 'SIGTERM') => {
    if (!srv.exited) {
      process.kill(srv.pid, signal);
      const t = setTimeout(() => { if (!srv.exited) process.kill(srv.pid, 'SIGKILL'); }, 15000);
      await srv.exitPromise;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
    return srv.exited;
  };
  // Wait until it serves, or exits.
  const deadline = Date.now() + 15000;
  for (;;) {
    if (srv.exited) {
      const e = new Error(`flyteauth serve exited (${JSON.stringify(srv.exited)}): ${srv.stderr}`);
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    try {
      const r = await fetch(`${srv.url}/healthcheck`);
      if (r.status === 200) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      await srv.stop('SIGKILL');
      throw new Error(`flyteauth serve did not come up: ${srv.stderr}`);
    }
    await sleep(20);
  }
  // The development server generates its secrets in its state dir.
  if (scanning && config === null) recordSecretFiles(path.join(dir, 'state', 'flyteauth'));
  return srv;
}

// Every secret file (not the database) in dir, for the log scan.
function recordSecretFiles(dir) {
  let names = [];
  try { names = readdirSync(dir, { withFileTypes: true }); } catch { return; }
  for (const e of names) {
    if (e.isFile() && !/\.(db|db-wal|db-shm|yaml|lock)$/.test(e.name)) {
      recordFile(`server secret ${e.name}`, readFileSync(path.join(dir, e.name)));
    }
  }
}

// A raw HTTP/1.1 exchange over one socket, for bytes fetch() will not send.
export function rawRequest(port, data, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    const t = setTimeout(() => { sock.destroy(); resolve(buf); }, timeoutMs);
    sock.on('connect', () => sock.write(data));
    sock.on('data', (d) => { buf += d; });
    sock.on('error', (e) => { clearTimeout(t); if (buf) resolve(buf); else reject(e); });
    sock.on('close', () => { clearTimeout(t); resolve(buf); });
  });
}

export function statusOf(raw) {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  return m ? Number(m[1]) : 0;
}

// A form POST to the server (the token, introspection, device and
// userinfo endpoints): { res, json (null when the body is not JSON), text }.
export async function postForm(srv, path, params, headers = {}) {
  const res = await fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { res, json, text };
}

// client_secret_basic credentials, form-urlencoded inside as RFC 6749 §2.3.1 says.
export function basic(id, secret) {
  const enc = (s) => encodeURIComponent(s).replaceAll('%20', '+');
  return 'Basic ' + Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64');
}
