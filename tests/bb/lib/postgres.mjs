// postgres.mjs -- a throwaway PostgreSQL for black-box tests: initdb into a
// temp dir (removed when the test process exits), the server started as our
// child on a free 127.0.0.1 port with its unix socket in that dir, stopped
// by its PID. Debian's server binaries (/usr/lib/postgresql/<v>/bin, or
// FA_TEST_PG_BIN); as root the server runs as the `postgres` user, which
// initdb and postgres require.
//
//   const pg = await startPostgres();   // null when PostgreSQL is missing
//   pg.config()                          // a database.postgres YAML block
//   await pg.sql('SELECT 1')             // psql as the superuser, -At output
//   await pg.halt(); await pg.run();     // a restart on the same port
//   await pg.stop();                     // stop by PID, remove the dir
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, openSync, closeSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

import { freePort, sleep, tempDir } from './server.mjs';

// Every server started here, by PID: stopped if the test process exits
// without stopping it (a failed assertion, a crash).
const running = new Set();
process.on('exit', () => {
  for (const pid of running) {
    try { process.kill(pid, 'SIGQUIT'); } catch { /* gone */ }
  }
});

// The directory of initdb and postgres, or null when not installed.
export function pgBinDir() {
  const env = process.env.FA_TEST_PG_BIN;
  const dirs = env ? [env] : (existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`)
    : []);
  return dirs.find((d) => existsSync(path.join(d, 'initdb')) && existsSync(path.join(d, 'postgres'))) ?? null;
}

// The uid/gid to run the server as: the postgres user when we are root.
function serverUser() {
  if (process.getuid() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

export async function startPostgres() {
  const bin = pgBinDir();
  if (!bin) return null;
  const who = serverUser();
  const dir = tempDir('fa-pg-');
  const data = path.join(dir, 'data');
  const password = randomBytes(16).toString('hex');
  const pwfile = path.join(dir, 'pw');
  const own = (p) => { if (who.uid !== undefined) chownSync(p, who.uid, who.gid); };
  own(dir);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  own(pwfile);
  const log = (name) => {
    const fd = openSync(path.join(dir, name), 'a', 0o600);
    own(path.join(dir, name));
    return fd;
  };
  let fd = log('initdb.log');
  const init = spawnSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres',
    '--auth-local=trust', '--auth-host=scram-sha-256', '--pwfile', pwfile, '--no-sync',
    '-E', 'UTF8', '--no-locale'], { ...who, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (init.status !== 0) throw new Error(`initdb failed (${init.status}); see ${dir}/initdb.log`);

  const pg = {
    dir, bin, password, port: 0, pid: 0, child: null,
    // The password as a file, for passwordPath (readable by us only).
    passwordFile: path.join(dir, 'pgpass'),
  };
  writeFileSync(pg.passwordFile, `${password}\n`, { mode: 0o600 });

  // Starts the server (on pg.port once chosen) and waits until it accepts.
  pg.run = async () => {
    for (let tries = 0; tries < 5; tries++) {
      if (!pg.port) pg.port = await freePort();
      fd = log('server.log');
      const child = spawn(path.join(bin, 'postgres'), ['-D', data, '-p', String(pg.port),
        '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off',
        '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
        '-c', 'max_connections=200'], { ...who, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      pg.child = child;
      pg.pid = child.pid;
      running.add(child.pid);
      child.exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
        running.delete(child.pid);
        child.exited = { code, signal };
        resolve(child.exited);
      }));
      const deadline = Date.now() + 30000;
      while (!child.exited && Date.now() < deadline) {
        const r = spawnSync(path.join(bin, 'pg_isready'), ['-q', '-h', dir, '-p', String(pg.port)]);
        if (r.status === 0) return;
        await sleep(50);
      }
      if (!child.exited) throw new Error(`postgres did not come up; see ${dir}/server.log`);
      pg.port = 0; // the port was taken meanwhile: another one
    }
    throw new Error(`postgres did not start; see ${dir}/server.log`);
  };

  // Fast shutdown by PID (sessions end, as in a restart); the data stays.
  pg.halt = async () => {
    const child = pg.child;
    if (!child || child.exited) return;
    process.kill(child.pid, 'SIGINT');
    const t = setTimeout(() => { if (!child.exited) process.kill(child.pid, 'SIGKILL'); }, 15000);
    await child.exitPromise;
    clearTimeout(t);
  };

  pg.stop = async () => {
    await pg.halt();
    // tempDir's exit hook removes the directory; nothing of it is needed now.
  };

  // psql as the superuser over the unix socket: rows as "a|b" lines.
  pg.sql = (sql, db = 'postgres') => execFileSync(path.join(bin, 'psql'), ['-X', '-q', '-At',
    '-v', 'ON_ERROR_STOP=1', '-h', dir, '-p', String(pg.port), '-U', 'postgres', '-d', db,
    '-c', sql]).toString().trim();

  // flyteadmin's database.postgres block for this server (passwordPath).
  pg.config = ({ indent = '  ' } = {}) =>
    `${indent}postgres: {host: 127.0.0.1, port: ${pg.port}, dbname: postgres, username: postgres, ` +
    `passwordPath: ${pg.passwordFile}, options: "sslmode=disable"}\n`;

  await pg.run();
  return pg;
}
