/**
 * The embeddable widget's size: raw, gzipped (level 9, what the build checks) and brotli (what
 * Cloudflare's edge usually serves), against the budget of issue #9 (WIDGET_CLIENT
 * .bundleGzipBudgetBytes, src/limits.ts). Fails when the gzipped size reaches the budget.
 *
 *   node bench/widget-size.mjs
 */
import { brotliCompressSync, constants } from 'node:zlib';
import { buildWidget } from '../scripts/build-widget.mjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const info = await buildWidget();
const js = readFileSync(fileURLToPath(new URL('../dist/widget.js', import.meta.url)));
const brotli = brotliCompressSync(js, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`.padStart(9);
console.log(`widget bundle ${info.version}`);
console.log(`  raw      ${kb(info.rawBytes)}  (${info.rawBytes} B)`);
console.log(`  gzip -9  ${kb(info.gzipBytes)}  (${info.gzipBytes} B)   budget < ${kb(info.budgetBytes)}  (${((100 * info.gzipBytes) / info.budgetBytes).toFixed(0)} % used)`);
console.log(`  brotli   ${kb(brotli)}  (${brotli} B)`);
if (info.gzipBytes >= info.budgetBytes) {
  console.error('the widget bundle is over its gzip budget');
  process.exit(1);
}
