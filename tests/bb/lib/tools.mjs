// tools.mjs -- running the system tools the packaging tests check flyteauth
// with (groff, man, bash, zsh, systemd-analyze, make, dpkg), synchronously.
import { spawnSync } from 'node:child_process';

// Whether `cmd` is on PATH: tests that need an optional tool say so and
// check less when it is missing.
export function has(cmd) {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd]).status === 0;
}

// Runs cmd to completion: { status, stdout, stderr } as text.
export function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw r.error;
  return r;
}
