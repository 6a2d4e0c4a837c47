// A team's day in the web app of a running `cxray serve`, in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core): an analyst logs in, the overview shows the
// scorecard with intervals; a customer answers a survey link with NPS 2 and a comment (with
// markup in it); the case appears in the analyst's queue within seconds, its comment as text;
// the analyst takes it, records the contact, adds a note and resolves it; the loop's figures
// change; the case's webhook and an alert's reach the receiver (.ci/webhook-sink.mjs, its log
// in HOOK_LOG), signed with the secret the admin API shows. Then the same pages on a phone.
// Checks that no page logs an error, fetches anything from elsewhere or is wider than the
// screen; writes screenshots into OUT_DIR.
//
//   node .ci/app-check.mjs http://127.0.0.1:PORT ADMIN_KEY OUT_DIR MEMBER PASSWORD HOOK_LOG
import { chromium } from 'playwright-core';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const [base, key, outDir, member, password, hookLog] = process.argv.slice(2);
const problems = [];
const comment = 'Parcel a week late <script>alert(1)</script><img src=x onerror=alert(2)>';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const watch = (page, name) => {
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e}`));
  page.on('dialog', (d) => { problems.push(`${name}: a dialog opened (${d.message()}): script ran`); d.dismiss(); });
  page.on('request', (r) => { if (!r.url().startsWith(base)) problems.push(`${name}: request to ${r.url()}`); });
};
const shot = async (page, name, step) => {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 2) problems.push(`${name} ${step}: ${overflow}px wider than the screen`);
  await page.screenshot({ path: path.join(outDir, `app-${name}-${step}.png`), fullPage: true });
};
const login = async (page) => {
  await page.goto(`${base}/app/cases`);
  if (!page.url().includes('/app/login')) problems.push(`not sent to the login page: ${page.url()}`);
  await page.fill('input[name=name]', member);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/app\/cases$/);
};
const tileText = (page, name) => page.$$eval('section.loop-figures .tile', (tiles, n) =>
  (tiles.find((t) => t.querySelector('.name').textContent === n) || { textContent: '' }).textContent, name);

// The analyst's desktop.
const desk = await browser.newPage({ viewport: { width: 1280, height: 900 } });
watch(desk, 'desktop');
await login(desk);
await desk.goto(`${base}/app`);
await desk.waitForSelector('#scorecard .tile');
const tiles = await desk.$$eval('#scorecard .tile', (ts) => ts.map((t) => t.textContent));
if (!tiles.length) problems.push('overview: no scorecard');
if (!tiles.some((t) => /\[[-0-9.]+, [-0-9.]+\] · n = \d+/.test(t))) {
  problems.push(`overview: no tile with an interval and n: ${tiles[0]}`);
}
await shot(desk, 'desktop', 'overview');
await desk.goto(`${base}/app/cases`);
const contactedBefore = await tileText(desk, 'Time to first contact');
const openBefore = await tileText(desk, 'Open');

// A customer answers a personal link of the relationship survey: NPS 2 and a comment.
const made = await fetch(`${base}/api/v1/links`, {
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ survey: 'relationship', customer_id: 'C0000042', language: 'en' }),
});
if (made.status !== 201) throw new Error(`link: ${made.status} ${await made.text()}`);
const customer = await browser.newContext({ viewport: { width: 390, height: 844 } });
const answer = await customer.newPage();
watch(answer, 'customer');
await answer.goto(base + (await made.json()).path);
await answer.click('label[for=v2]');
await answer.click('button[value=next]');
await answer.waitForURL(/q=2/);
await answer.fill('textarea', comment);
await answer.click('button[value=next]');
await answer.waitForURL(/done=1/);
const answeredAt = Date.now();
await customer.close();

// The case reaches the analyst's queue within seconds.
let row;
for (let i = 0; i < 50 && !row; i++) {
  await desk.goto(`${base}/app/cases?view=unassigned`);
  row = await desk.$('tr:has(td.comment:has-text("Parcel a week late"))');
  if (!row) await desk.waitForTimeout(200);
}
if (!row) throw new Error('the case did not reach the queue in 10 s');
console.log(`case in the queue ${((Date.now() - answeredAt) / 1000).toFixed(1)} s after the answer`);
const shown = await row.$eval('td.comment', (td) => td.textContent);
if (!shown.includes('<script>alert(1)</script>')) problems.push(`the comment is not shown as text: ${shown}`);
if (await desk.$('td.comment img, td.comment script')) problems.push('the comment became markup');
await shot(desk, 'desktop', 'queue');
await row.$eval('a', (a) => a.click());
await desk.waitForURL(/\/app\/cases\/\d+$/);
const caseUrl = desk.url();
await shot(desk, 'desktop', 'case-new');
await desk.click('button:has-text("Take it")');
await desk.waitForSelector('text=owner → ');
await desk.click('button:has-text("Contacted")');
await desk.waitForSelector('ol.notes li:has-text("contacted")');
await desk.fill('textarea[name=text]', 'Called the customer: refund and a voucher agreed.');
await desk.click('button:has-text("Add note")');
await desk.waitForSelector('ol.notes li:has-text("refund and a voucher")');
await desk.click('button:has-text("Resolved")');
await desk.waitForSelector('p.state strong:has-text("resolved")');
await shot(desk, 'desktop', 'case-resolved');
await desk.goto(`${base}/app/cases?view=closed`);
const contactedAfter = await tileText(desk, 'Time to first contact');
const openAfter = await tileText(desk, 'Open');
if (contactedAfter === contactedBefore) problems.push(`time to first contact unchanged: ${contactedAfter}`);
const contacted = (t) => Number((/(\d+) of \d+ contacted/.exec(t) || [0, 0])[1]);
if (!(contacted(contactedAfter) === contacted(contactedBefore) + 1)) {
  problems.push(`contacted cases: ${contactedBefore} → ${contactedAfter}`);
}
console.log(`loop: "${contactedBefore}" → "${contactedAfter}"; open: "${openBefore}" → "${openAfter}"`);
await shot(desk, 'desktop', 'queue-closed');

// The answer among all answers (search), and its customer with the case and the timeline.
await desk.goto(`${base}/app/responses?q=parcel&metric=nps`);
const found = await desk.$$eval('table.answers td.comment', (tds) => tds.map((t) => t.textContent));
if (!found.some((t) => t.includes('<script>alert(1)</script>'))) problems.push(`responses: the answer is not found as text: ${found}`);
await shot(desk, 'desktop', 'responses');
await desk.goto(`${base}/app/customers/C0000042`);
if (!(await desk.$('ul.cases-of li a'))) problems.push('customer: no case listed');
if (!(await desk.$('ul.timeline li'))) problems.push('customer: no timeline');
await shot(desk, 'desktop', 'customer');

// Explore: why NPS changed last month, and what drives it (the priority matrix).
await desk.goto(`${base}/app/explore?view=change&metric=nps`);
if (!(await desk.$('section.explain .summary'))) problems.push(`explore: no explanation: ${(await desk.textContent('main')).slice(0, 300)}`);
await shot(desk, 'desktop', 'explore-change');
await desk.goto(`${base}/app/explore?view=drivers&metric=nps`);
if (!(await desk.$('section.drivers svg'))) problems.push(`explore: no priority matrix: ${(await desk.textContent('main')).slice(0, 300)}`);
await shot(desk, 'desktop', 'explore-drivers');
await desk.goto(`${base}/app/explore?view=retention`);
if (!(await desk.$('section.linkage svg'))) problems.push(`explore: no retention by NPS: ${(await desk.textContent('main')).slice(0, 300)}`);
await shot(desk, 'desktop', 'explore-retention');
await desk.goto(`${base}/app/surveys`);
await shot(desk, 'desktop', 'surveys');
await desk.goto(`${base}/app/surveys/relationship`);
if (!(await desk.$('img.qr'))) problems.push('survey: no QR code');
const qrOk = await desk.$eval('img.qr', (i) => i.complete && i.naturalWidth > 0);
if (!qrOk) problems.push('survey: the QR code did not load');
await shot(desk, 'desktop', 'survey');

// The webhooks: the case opened by the answer, and an alert of the demo's [[alerts]], each
// signed (Standard Webhooks: HMAC-SHA256 over id.timestamp.body under the whsec_ secret).
{
  const settings = await (await fetch(`${base}/api/v1/webhooks`, {
    headers: { authorization: `Bearer ${key}` },
  })).json();
  const secret = Buffer.from(settings.secret.replace(/^whsec_/, ''), 'base64');
  const wanted = (m) => m.type === 'case.opened' && (m.data.comment || '').startsWith('Parcel a week late');
  let got = [];
  for (let i = 0; i < 100; i++) {
    got = fs.existsSync(hookLog)
      ? fs.readFileSync(hookLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
      : [];
    const types = got.map((r) => JSON.parse(r.body));
    if (types.some(wanted) && types.some((m) => m.type === 'alert.fired')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const caseHook = got.find((r) => wanted(JSON.parse(r.body)));
  const alertHook = got.find((r) => JSON.parse(r.body).type === 'alert.fired');
  if (!caseHook) problems.push('no case.opened webhook for the answer within 20 s');
  if (!alertHook) problems.push('no alert.fired webhook within 20 s');
  for (const r of [caseHook, alertHook].filter(Boolean)) {
    const mac = crypto.createHmac('sha256', secret).update(`${r.id}.${r.timestamp}.${r.body}`).digest('base64');
    if (!r.signature.split(' ').includes(`v1,${mac}`)) problems.push(`webhook ${r.id}: bad signature`);
    if (Math.abs(Date.now() / 1000 - Number(r.timestamp)) > 300) problems.push(`webhook ${r.id}: old timestamp`);
  }
  if (alertHook) console.log(`alert webhook: ${JSON.parse(alertHook.body).data.rule}, signed`);
  if (caseHook) console.log(`case webhook: case ${JSON.parse(caseHook.body).data.case_id}, signed`);
}

// The same pages on a phone.
const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
watch(phone, 'phone');
await phone.goto(`${base}/app/login`);
await shot(phone, 'phone', 'login');
await login(phone);
await shot(phone, 'phone', 'queue');
await phone.goto(caseUrl);
await shot(phone, 'phone', 'case');
await phone.goto(`${base}/app`);
await shot(phone, 'phone', 'overview');
await phone.goto(`${base}/app/responses?metric=nps`);
await shot(phone, 'phone', 'responses');
await phone.goto(`${base}/app/customers/C0000042`);
await shot(phone, 'phone', 'customer');
await phone.goto(`${base}/app/explore?view=drivers&metric=nps`);
await shot(phone, 'phone', 'explore-drivers');
await phone.goto(`${base}/app/surveys`);
await shot(phone, 'phone', 'surveys');
// Logging out ends the session.
await phone.click('form.logout button');
await phone.waitForURL(/\/app\/login/);
await phone.goto(`${base}/app/cases`);
if (!phone.url().includes('/app/login')) problems.push('after logout the queue still shows');

await browser.close();
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`app check: the team's day played; screenshots in ${outDir}`);
