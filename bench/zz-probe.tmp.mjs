import { startBenchWorker } from './lib/worker.mjs';
const t = Date.now();
const w = await startBenchWorker();
console.log('started in', Date.now() - t, 'ms at', w.url.href);
for (const p of ['/health', '/__bench/bare', '/api/v1/bots']) {
  const r = await fetch(new URL(p, w.url)); console.log(p, r.status, (await r.text()).slice(0, 150));
}
await w.dispose();
