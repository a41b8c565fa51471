// cli.test.mjs -- the command-line contract of SPEC §2: --help, --version,
// exit codes 0 / 1 / 2 with one clear line on stderr.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run } from './lib/server.mjs';

const SUBCOMMANDS = [
  ['serve'], ['config', 'check'], ['secrets', 'init'], ['hash-secret'],
  ['login'], ['token'], ['whoami'], ['logout'],
];

test('--help lists every command and exits 0', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  for (const [cmd] of SUBCOMMANDS) assert.match(r.stdout, new RegExp(`^  ${cmd} `, 'm'));
});

test('--version prints the version', async () => {
  const r = await run(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^flyteauth \d+\.\d+\.\d+\n$/);
});

test('no command and unknown commands are usage errors (exit 2)', async () => {
  let r = await run([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^usage: flyteauth/m);
  r = await run(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test('every subcommand answers --help with exit 0 and a usage line', async () => {
  for (const argv of SUBCOMMANDS) {
    const r = await run([...argv, '--help']);
    assert.equal(r.code, 0, `${argv.join(' ')} --help: ${r.stderr}`);
    assert.match(r.stdout, /usage: flyteauth /, argv.join(' '));
  }
});

test('unknown options are usage errors with exit 2 and one clear line', async () => {
  for (const argv of [['serve', '--bogus'], ['config', 'check', '--bogus'], ['config'],
    ['hash-secret', '--cost', '99'], ['login', '--bogus'], ['serve', '--config']]) {
    const r = await run(argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^flyteauth/m);
    assert.match(r.stderr, /usage: flyteauth /);
  }
});

test('serve with a missing config file fails with exit 1 and names the file', async () => {
  const r = await run(['serve', '--config', '/nonexistent/flyteauth.yaml']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\/nonexistent\/flyteauth\.yaml/);
});
