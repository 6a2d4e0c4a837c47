// The web widget of a running `cxray serve` (the demo's order_confirmation trigger) on a page of
// another site, in headless Chromium: a host page on its own 127.0.0.1 port, with a strict
// Content-Security-Policy, shows it with one tag and a customer token signed here with the
// widget key (HMAC-SHA256, as a site's backend would). On a desktop the customer answers every
// question (a star, the reason typed, "Oui"), which the store must hold with channel "widget";
// on a phone the card fits the screen, Escape closes it, and it does not come back after a
// reload. A forged token shows nothing. Screenshots (widget-*.png) go into OUT_DIR.
//
//   node .ci/widget-check.mjs http://127.0.0.1:PORT ADMIN_KEY OUT_DIR
import { chromium } from 'playwright-core';
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';

const [base, key, outDir] = process.argv.slice(2);
const problems = [];
const api = async (p, init = {}) => {
  const r = await fetch(base + p, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.headers || {}) } });
  const body = await r.json();
  if (!r.ok) throw new Error(`${p}: ${r.status} ${JSON.stringify(body)}`);
  return body;
};
const settings = await api('/api/v1/widget');
if (!settings.touchpoints.includes('order_confirmation')) throw new Error(`touchpoints: ${settings.touchpoints}`);
const token = (customer, secret = settings.key) => {
  const text = `${customer}.${Math.floor(Date.now() / 1000) + 3600}`;
  return `${text}.${crypto.createHmac('sha256', Buffer.from(secret, 'hex')).update(text).digest('hex')}`;
};

// Customers the widget shows the survey to (half are sampled out; the decision of the day is
// kept, so the page's own ask gets the same one).
const shown = [];
for (let i = 1; shown.length < 2 && i < 60; i++) {
  const customer = `W${String(i).padStart(6, '0')}`;
  const r = await fetch(`${base}/w/ask`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: JSON.stringify({ token: token(customer), touchpoint: 'order_confirmation' }),
  });
  const a = await r.json();
  if (r.status !== 200) throw new Error(`ask: ${r.status} ${JSON.stringify(a)}`);
  if (a.show) shown.push(customer);
  else if (a.outcome !== 'sampled_out') problems.push(`${customer}: ${a.outcome} ${a.reason}`);
}
if (shown.length < 2) throw new Error('no customer of 60 was shown the widget');

// The site: one page, on another origin, that allows scripts and requests to cxray only.
const page = (tokenValue) => `<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src ${base}; connect-src ${base}; style-src 'self'">
<title>Merci pour votre commande</title></head>
<body><main><h1>Merci pour votre commande</h1><p>Commande n° 48213 : livraison jeudi.</p></main>
<script src="${base}/w/widget.js" data-token="${tokenValue}" data-touchpoint="order_confirmation" async></script>
</body></html>`;
let served = '';
const site = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(served);
});
await new Promise((ok) => site.listen(0, '127.0.0.1', ok));
const siteUrl = `http://127.0.0.1:${site.address().port}/order/48213`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const open = async (name, viewport) => {
  const context = await browser.newContext({ viewport, isMobile: viewport.width < 500, hasTouch: viewport.width < 500 });
  const p = await context.newPage();
  p.on('console', (m) => { if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`); });
  p.on('pageerror', (e) => problems.push(`${name}: page error: ${e}`));
  p.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(base) && !u.startsWith(siteUrl.split('/order')[0])) problems.push(`${name}: request to ${u}`);
  });
  return p;
};
const card = '[data-cxray-widget] section.card';

try {
  // Desktop: every question answered.
  served = page(token(shown[0]));
  const desk = await open('desktop', { width: 1280, height: 800 });
  await desk.goto(siteUrl);
  await desk.waitForSelector(card);
  const look = await desk.$eval(card, (c) => {
    const s = getComputedStyle(c);
    const r = c.getBoundingClientRect();
    return { position: s.position, label: c.getAttribute('aria-label'), right: innerWidth - r.right, bottom: innerHeight - r.bottom, width: r.width };
  });
  if (look.position !== 'fixed') problems.push(`desktop: the card's style did not apply under the page's CSP (${look.position})`);
  if (look.label !== 'Votre commande') problems.push(`desktop: the card is labelled ${look.label}, not in the page's language`);
  if (look.right > 40 || look.bottom > 40 || look.width > 430) problems.push(`desktop: card at ${JSON.stringify(look)}`);
  const legend = await desk.textContent(`${card} legend`);
  if (!legend.includes('paiement')) problems.push(`desktop: question ${legend}`);
  await desk.screenshot({ path: path.join(outDir, 'widget-desktop-q1.png') });
  await desk.click(`${card} .scale button:nth-child(2)`);
  await desk.waitForSelector(`${card} textarea`);
  await desk.fill(`${card} textarea`, 'Le paiement a échoué <b>deux</b> fois');
  await desk.screenshot({ path: path.join(outDir, 'widget-desktop-q2.png') });
  await desk.click(`${card} .actions button:not(.secondary)`);
  await desk.waitForSelector(`${card} .scale button:has-text("Oui")`, { timeout: 5000 }).catch(async (e) => {
    await desk.screenshot({ path: path.join(outDir, 'widget-desktop-failed.png') });
    throw new Error(`desktop: no "Oui" after the reason: ${await desk.$eval('[data-cxray-widget]', (h) => h.shadowRoot.textContent)}`);
  });
  await desk.click(`${card} .scale button:has-text("Oui")`);
  await desk.waitForSelector(`${card} .thanks`);
  await desk.screenshot({ path: path.join(outDir, 'widget-desktop-thanks.png') });
  const stored = await api(`/api/v1/customers/${shown[0]}/export`);
  const responses = stored.responses || [];
  const answers = responses.flatMap((r) => r.answers || []);
  const widget = responses.filter((r) => r.channel === 'widget');
  if (widget.length !== 1) problems.push(`desktop: ${widget.length} widget responses: ${JSON.stringify(stored).slice(0, 400)}`);
  const stars = answers.find((a) => a.metric === 'stars');
  const task = answers.find((a) => a.metric === 'task');
  if (!stars || stars.score !== 2 || stars.comment !== 'Le paiement a échoué <b>deux</b> fois') problems.push(`desktop: stars ${JSON.stringify(stars)}`);
  if (!task || task.score !== 1) problems.push(`desktop: task ${JSON.stringify(task)}`);
  if (responses[0] && responses[0].language !== 'fr') problems.push(`desktop: language ${responses[0].language}`);
  console.log(`widget desktop: ${shown[0]} answered ${answers.length} questions in the widget`);

  // Phone: the card fits, Escape closes it, a reload does not bring it back.
  served = page(token(shown[1]));
  const phone = await open('phone', { width: 390, height: 844 });
  await phone.goto(siteUrl);
  await phone.waitForSelector(card);
  const fit = await phone.$eval(card, (c) => { const r = c.getBoundingClientRect(); return { left: r.left, right: innerWidth - r.right }; });
  if (fit.left < 0 || fit.right < 0) problems.push(`phone: the card leaves the screen ${JSON.stringify(fit)}`);
  const buttons = await phone.$$eval(`${card} .scale button`, (bs) => bs.map((b) => b.getBoundingClientRect()).map((r) => [r.width, r.height]));
  if (buttons.some(([w, h]) => w < 24 || h < 24)) problems.push(`phone: targets under 24 px: ${JSON.stringify(buttons)}`);
  await phone.screenshot({ path: path.join(outDir, 'widget-phone.png') });
  await phone.focus(`${card} .scale button`);
  await phone.keyboard.press('Escape');
  await phone.waitForSelector('[data-cxray-widget]', { state: 'detached' });
  const asked = phone.waitForResponse((r) => r.url().endsWith('/w/ask'));
  await phone.reload();
  await asked;
  await phone.waitForTimeout(300);
  if (await phone.$('[data-cxray-widget]')) problems.push('phone: the closed widget came back after a reload');

  // A token not signed with the widget key shows nothing.
  served = page(token(shown[1], '00'.repeat(32)));
  const forged = await open('forged', { width: 1280, height: 800 });
  const refused = forged.waitForResponse((r) => r.url().endsWith('/w/ask'));
  await forged.goto(siteUrl);
  const status = (await refused).status();
  await forged.waitForTimeout(300);
  if (status !== 401) problems.push(`forged: /w/ask answered ${status}`);
  if (await forged.$('[data-cxray-widget]')) problems.push('forged: the widget was shown');
  // The forged page's 401 is the browser's console error about a failed request: expected.
  for (let i = problems.length - 1; i >= 0; i--) if (problems[i].startsWith('forged: console error') && problems[i].includes('401')) problems.splice(i, 1);
} finally {
  await browser.close();
  site.close();
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`widget: shown, answered and closed in Chromium; screenshots in ${outDir}`);
