// flood.mjs -- runs flood_worker.mjs (an attacker on its own thread) and
// measures what legitimate callers see meanwhile.
import { Worker } from 'node:worker_threads';

// Starts a flood; await the result for { counts, sent }.
export function flood(workerData) {
  const w = new Worker(new URL('./flood_worker.mjs', import.meta.url), { workerData });
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => { if (code !== 0) reject(new Error(`flood worker exited ${code}`)); });
  });
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

// Times fn() every `gapMs` until `ms` have passed: the latencies in ms.
export async function sample(fn, { ms, gapMs = 50 }) {
  const out = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const t = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return out;
}
