// chromium.mjs -- Debian's headless Chromium, driven by playwright-core
// (which downloads no browser of its own), for the black-box tests that
// need a real browser: script-driven login pages, cookies as a browser
// keeps them, fetches in the page's own context.
//
// launchChromium() returns { browser, pid, close() }; close() closes the
// browser and, should it not exit, kills the process it started by PID.
// Every test that launches one closes it in a finally / after hook.
import { existsSync } from 'node:fs';

import { chromium } from 'playwright-core';

import { tempDir } from './server.mjs';

export const CHROMIUM = '/usr/bin/chromium';

export function hasChromium() {
  return existsSync(CHROMIUM);
}

export async function launchChromium() {
  // A fresh profile each time; the flags keep Chromium from reaching for
  // the network on its own (this machine has none but loopback). Launched
  // as a server so that its process, and so its PID, is ours to see.
  const server = await chromium.launchServer({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-default-apps',
      '--disable-dev-shm-usage',
    ],
    env: { ...process.env, HOME: tempDir('fa-bb-chromium-') },
    timeout: 30000,
  });
  const pid = server.process().pid;
  let browser;
  try {
    browser = await chromium.connect(server.wsEndpoint());
  } catch (e) {
    await server.kill();
    throw e;
  }
  return {
    browser,
    pid,
    async close() {
      try {
        await Promise.race([browser.close().then(() => server.close()),
          new Promise((r) => setTimeout(r, 10000))]);
      } finally {
        if (pid) {
          try { process.kill(pid, 0); process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        }
      }
    },
  };
}
