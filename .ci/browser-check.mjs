// Renders an HTML report in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) and checks that it loads without console errors or network requests, that
// every chart is present with a non-empty size and drawn content, and that the page fits a
// phone-width screen. Writes full-page screenshots next to the report.
//
//   node .ci/browser-check.mjs path/to/report.html
import { chromium } from 'playwright-core';
import path from 'node:path';

const file = path.resolve(process.argv[2]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
for (const [name, viewport] of [['desktop', { width: 1100, height: 900 }], ['phone', { width: 390, height: 844 }]]) {
  const page = await browser.newPage({ viewport });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e}`));
  page.on('request', (r) => { if (!r.url().startsWith('file:')) problems.push(`${name}: network request ${r.url()}`); });
  await page.goto('file://' + file);
  const charts = await page.$$eval('svg.chart-svg', (els) => els.map((e) => {
    const r = e.getBoundingClientRect();
    return { kind: e.dataset.chart, label: e.getAttribute('aria-label'), w: r.width, h: r.height,
             shapes: e.querySelectorAll('circle,rect,polyline,polygon,line').length };
  }));
  if (charts.length === 0) problems.push(`${name}: no charts`);
  for (const kind of ['trend', 'segments', 'distribution', 'themes', 'funnel', 'retention']) {
    if (!charts.some((c) => c.kind === kind)) problems.push(`${name}: no ${kind} chart`);
  }
  for (const c of charts) {
    if (!(c.w > 200 && c.h > 100)) problems.push(`${name}: chart too small (${c.w}x${c.h}): ${c.label}`);
    if (c.shapes < 4) problems.push(`${name}: chart without content: ${c.label}`);
  }
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 2) problems.push(`${name}: page is ${overflow}px wider than the screen`);
  const png = file.replace(/\.html$/, `-${name}.png`);
  await page.screenshot({ path: png, fullPage: true });
  console.log(`${name}: ${charts.length} charts, screenshot ${png}`);
  await page.close();
}
await browser.close();
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('browser check passed');
