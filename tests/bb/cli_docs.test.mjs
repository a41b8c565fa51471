// cli_docs.test.mjs -- the command table (src/cli/commands.c) as users meet
// it: every option --help lists is accepted, the manual page (`flyteauth
// man`, rendered by groff and man) says what --help says, and the bash and
// zsh completions complete command lines in a real bash and a real zsh (on
// a pseudo-terminal, tests/bb/lib/zsh_complete.zsh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { run, tempDir } from './lib/server.mjs';
import { has, sh } from './lib/tools.mjs';

const LIB = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib');

// ---- the command table, as --help shows it ------------------------------

async function help(words) {
  const r = await run([...words, '--help']);
  assert.equal(r.code, 0, `${words.join(' ')} --help: ${r.stderr}`);
  return r.stdout;
}

// Every command (one or two words) from the top-level help.
async function commands() {
  const top = await help([]);
  const block = top.split('\ncommands:\n')[1].split('\n\n')[0];
  return block.split('\n').map((l) => /^ {2}(\S+(?: [a-z]+)?) {2,}/.exec(l)[1].split(' '));
}

// A command's options from its --help: [{ short, long, arg }].
function optionsOf(text) {
  const opts = [];
  for (const l of text.split('\n')) {
    const m = /^ {2}(?:(-\w), )?(--[\w-]+)(?: (\S+))?(?: {2,}|$)/.exec(l);
    if (m) opts.push({ short: m[1], long: m[2], arg: m[3] });
  }
  return opts;
}

const SAMPLE = { ALG: 'ES256', N: '10', 'ADDR:PORT': '127.0.0.1:9' };

test('every option --help lists is one its command accepts, and only those', async () => {
  for (const words of await commands()) {
    const text = await help(words);
    assert.match(text, new RegExp(`^usage: flyteauth ${words.join(' ')}`), words.join(' '));
    for (const o of optionsOf(text)) {
      for (const name of [o.short, o.long].filter(Boolean)) {
        const argv = [...words, name, ...(o.arg ? [SAMPLE[o.arg] ?? 'x'] : []), '--help'];
        const r = await run(argv);
        assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
        assert.equal(r.stdout, text, argv.join(' '));
      }
    }
    const r = await run([...words, '--no-such-option', '--help']);
    assert.equal(r.code, 2, `${words.join(' ')} --no-such-option: ${r.stdout}`);
  }
});

// ---- the manual page ---------------------------------------------------------

// Rendered text, whitespace collapsed: the page and --help wrap differently.
function flat(s) {
  return s.replace(/[\u2010\u2212]/g, '-').replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"').replace(/\s+/g, ' ').trim();
}

function renderMan(file) {
  const r = sh('groff', ['-man', '-Tutf8', '-ww', '-P-cbou', file]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'groff -ww: no warnings');
  return r.stdout.replace(/.\x08/g, '');
}

test('the manual page says what --help says, and groff renders it without a warning', async () => {
  const dir = tempDir('fa-bb-man-');
  const file = path.join(dir, 'flyteauth.1');
  const r = await run(['man']);
  assert.equal(r.code, 0, r.stderr);
  writeFileSync(file, r.stdout);
  assert.match(r.stdout, /^\.TH FLYTEAUTH 1 /m);
  const page = flat(renderMan(file));

  const texts = [await help([])];
  for (const words of await commands()) texts.push(await help(words));
  let blocks = 0;
  for (const text of texts) {
    // Blocks are separated by blank lines; a heading ("commands:") is the
    // page's section title in capitals.
    for (let block of text.split('\n\n')) {
      const lines = block.split('\n');
      if (/^[a-z ]+:$/.test(lines[0])) {
        assert.ok(page.includes(lines[0].slice(0, -1).toUpperCase()), lines[0]);
        block = lines.slice(1).join('\n');
      }
      block = flat(block.replace(/^usage: /, ''));
      if (block === '') continue;
      assert.ok(page.includes(block), `the page lacks: ${block}`);
      blocks++;
    }
  }
  assert.ok(blocks > 40, `compared ${blocks} blocks`);

  // man(1) itself reads it (man -l), as `flyteauth man | man -l -` does.
  const m = sh('man', ['-l', '-P', 'cat', file], { env: { ...process.env, MANWIDTH: '80' } });
  assert.equal(m.status, 0, m.stderr);
  assert.match(m.stdout, /secrets rotate/);
  if (has('mandoc')) {
    const lint = sh('mandoc', ['-Tlint', file]);
    assert.equal(lint.stdout + lint.stderr, '', 'mandoc -Tlint');
  }
});

// ---- completions ------------------------------------------------------------------

// What bash offers for `line` (a trailing space completes a new word),
// splitting words as bash does (COMP_WORDBREAKS holds '=').
function bashComplete(script, line) {
  const words = line.split(/(=)| +/).filter((w) => w !== undefined && w !== '');
  if (/[ =]$/.test(line)) words.push('');
  const prog = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _flyteauth;
    printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = sh('bash', ['--norc', '--noprofile', '-c', prog, 'bash', script, ...words]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).sort();
}

function completionCases(dir) {
  writeFileSync(path.join(dir, 'flyteauth.yaml'), 'server: {}\n');
  writeFileSync(path.join(dir, 'flyteauth.json'), '{}\n');
  return [
    ['flyteauth se', ['secrets', 'serve']],
    ['flyteauth secrets ', ['init', 'rotate']],
    ['flyteauth secrets r', ['rotate']],
    ['flyteauth config ', ['check']],
    ['flyteauth secrets rotate --', ['--alg', '--force', '--help', '--key', '--localPath',
      '--old-key', '--promote', '--stage']],
    ['flyteauth secrets rotate --alg ', ['ES256', 'EdDSA', 'RS256']],
    ['flyteauth completion ', ['bash', 'zsh']],
    [`flyteauth serve --config ${dir}/flyteauth.y`, [`${dir}/flyteauth.yaml`]],
    ['flyteauth hash-secret --', ['--cost', '--help']],
  ];
}

test('bash completion completes commands, subcommands, options and their values', async () => {
  const dir = tempDir('fa-bb-compl-');
  const r = await run(['completion', 'bash']);
  assert.equal(r.code, 0, r.stderr);
  const script = path.join(dir, 'flyteauth.bash');
  writeFileSync(script, r.stdout);
  assert.equal(sh('bash', ['-n', script]).status, 0, 'bash -n');

  const top = bashComplete(script, 'flyteauth ');
  for (const [cmd] of await commands()) assert.ok(top.includes(cmd), cmd);
  assert.ok(top.includes('--version'));
  for (const [line, want] of completionCases(dir)) {
    assert.deepEqual(bashComplete(script, line), want, line);
  }
  // --opt=value, as bash splits it.
  assert.deepEqual(bashComplete(script, `flyteauth serve --config=${dir}/flyteauth.y`),
    [`${dir}/flyteauth.yaml`]);
  // A directory option offers directories only.
  assert.deepEqual(bashComplete(script, `flyteauth secrets init -p ${dir}/`), []);
  // Free-text values are not completed with option names.
  assert.deepEqual(bashComplete(script, 'flyteauth serve --listen '), []);
  if (has('shellcheck')) {
    const lint = sh('shellcheck', ['-s', 'bash', script]);
    assert.equal(lint.status, 0, lint.stdout);
  }
});

test('zsh completion completes the same in a real zsh', async (t) => {
  const r = await run(['completion', 'zsh']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^#compdef flyteauth\n/);
  if (!has('zsh')) {
    t.diagnostic('zsh is not installed: checked the script\'s shape only');
    assert.match(r.stdout, /_arguments/);
    return;
  }
  const dir = tempDir('fa-bb-zsh-');
  writeFileSync(path.join(dir, '_flyteauth'), r.stdout);
  assert.equal(sh('zsh', ['-n', path.join(dir, '_flyteauth')]).status, 0, 'zsh -n');
  const complete = (line) => {
    const z = sh('zsh', ['-f', path.join(LIB, 'zsh_complete.zsh'), dir, line], { timeout: 20000 });
    assert.equal(z.status, 0, `zsh_complete ${line}: ${z.stderr}`);
    return [...new Set(z.stdout.split('\n').filter(Boolean))].sort();
  };
  const top = complete('flyteauth ');
  for (const [cmd] of await commands()) assert.ok(top.includes(cmd), cmd);
  for (const [line, want] of completionCases(dir)) {
    // zsh completes a file name within its directory.
    const expect = want.map((w) => (w.startsWith(dir) ? path.basename(w) : w));
    assert.deepEqual(complete(line), expect, line);
  }
});
