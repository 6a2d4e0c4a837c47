// Answers a survey of a running `cxray serve` in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core), as a customer would: a personal link made through the admin API,
// a star chosen with the keyboard, the reason typed, "Yes" clicked, the thank-you page; then an
// email's one-click score, which the page sends by itself; then a purchase posted as an event,
// whose invitation email (caught by .ci/smtp-sink.mjs in MAIL_DIR) is answered from its
// one-click score after a plain GET of that link (a mail scanner) recorded nothing. Checks
// that no page logs an error or fetches anything from elsewhere, that each fits a phone screen,
// and that every question has a label; writes screenshots (desktop and phone) into OUT_DIR.
//
//   node .ci/survey-check.mjs http://127.0.0.1:PORT ADMIN_KEY OUT_DIR MAIL_DIR
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const [base, key, outDir, mailDir] = process.argv.slice(2);
const problems = [];
const made = await fetch(`${base}/api/v1/links`, {
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ survey: 'checkout', customer_id: 'C0000002', language: 'nl' }),
});
if (made.status !== 201) throw new Error(`link: ${made.status} ${await made.text()}`);
const link = base + (await made.json()).path;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
for (const [name, viewport] of [['desktop', { width: 1100, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
  const page = await browser.newPage({ viewport });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e}`));
  page.on('request', (r) => { if (!r.url().startsWith(base)) problems.push(`${name}: request to ${r.url()}`); });
  const check = async (step) => {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 2) problems.push(`${name} ${step}: ${overflow}px wider than the screen`);
    const unlabelled = await page.$$eval('input[type=radio], textarea', (els) =>
      els.filter((e) => !document.querySelector(`label[for="${e.id}"]`)).length);
    if (unlabelled) problems.push(`${name} ${step}: ${unlabelled} inputs without a label`);
    await page.screenshot({ path: path.join(outDir, `survey-${name}-${step}.png`), fullPage: true });
  };
  await page.goto(link);
  if ((await page.getAttribute('html', 'lang')) !== 'nl') problems.push(`${name}: not in the customer's language`);
  await check('q1');
  if (name === 'desktop') {
    // Keyboard only: Tab to the scale, arrows to the fourth star, Enter sends the form.
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
  } else {
    await page.click('label[for=v2]');
    await page.click('button[value=next]');
  }
  await page.waitForURL(/q=2/);
  await page.fill('textarea', name === 'desktop' ? 'Betalen ging snel <b>prima</b>' : 'Te veel stappen');
  await check('q2');
  await page.click('button[value=next]');
  await page.waitForURL(/q=3/);
  await check('q3');
  await page.click('label[for=v1]');
  await page.click('button[value=next]');
  await page.waitForURL(/done=1/);
  const thanks = await page.textContent('h1');
  if (!thanks.includes('Bedankt')) problems.push(`${name}: thank-you page says ${thanks}`);
  await check('done');
  console.log(`${name}: answered, screenshots in ${outDir}`);
  await page.close();
}
// The one-click score of an email: a fresh link with the score in it. The page sends itself in
// a browser and the follow-up question comes next.
{
  const made = await fetch(`${base}/api/v1/links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ survey: 'checkout', customer_id: 'C0000003', language: 'de' }),
  });
  const oneClick = base + (await made.json()).path + '?q=1&score=5';
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`one-click: console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`one-click: page error: ${e}`));
  await page.goto(oneClick);
  await page.waitForURL(/q=2/);
  if (!(await page.textContent('h1')).includes('Grund')) problems.push('one-click: no German follow-up');
  await page.screenshot({ path: path.join(outDir, 'survey-one-click-followup.png'), fullPage: true });
  console.log('one-click: the score sent itself, follow-up shown');
  await page.close();
}
// The emailed invitation: a purchase event with the customer's address, in a time zone where
// it is midday (the demo's trigger keeps quiet at night), for customers until one is sampled in.
{
  const api = (method, route, body) => fetch(base + route, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  const offset = 12 - new Date().getUTCHours();
  const timezone = offset === 0 ? 'UTC' : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
  const purchase = async (id, customer) => {
    const r = await api('POST', '/api/v1/events', {
      event_id: id, customer_id: customer, step: 'purchase',
      attributes: { email: `${customer.toLowerCase()}@demo.test`, timezone, language: 'fr' },
    });
    if (r.status !== 201) throw new Error(`event: ${r.status} ${await r.text()}`);
    return (await r.json()).decisions[0];
  };
  let customer;
  for (let i = 100; i < 160 && !customer; i++) {
    const c = `C${String(i).padStart(7, '0')}`;
    const d = await purchase(`ci-${c}`, c);
    if (d.outcome === 'invited') customer = c;
  }
  if (!customer) throw new Error('no customer of 60 was invited (share 0.33)');
  fs.writeFileSync(path.join(outDir, 'emailed-customer'), customer);
  let mail;
  for (let t = 0; t < 100 && !mail; t++) {
    const f = path.join(mailDir, '1.eml');
    if (fs.existsSync(f)) mail = fs.readFileSync(f, 'utf8');
    else await new Promise((r) => setTimeout(r, 100));
  }
  if (!mail) throw new Error('no invitation email reached the mail server in 10 s');
  const unsubscribe = /^List-Unsubscribe: <([^>]+)>/m.exec(mail);
  if (!unsubscribe || !/^List-Unsubscribe-Post: List-Unsubscribe=One-Click/m.test(mail)) {
    problems.push('email: no List-Unsubscribe headers');
  }
  const textPart = mail.split(/\r\n--/).find((p) => /content-type: text\/plain/i.test(p));
  const text = Buffer.from(textPart.split('\r\n\r\n')[1].split('\r\n').filter((l) => !l.startsWith('--')).join(''), 'base64').toString('utf8');
  const htmlPart = mail.split(/\r\n--/).find((p) => /content-type: text\/html/i.test(p));
  const html = Buffer.from(htmlPart.split('\r\n\r\n')[1].split('\r\n').filter((l) => !l.startsWith('--')).join(''), 'base64').toString('utf8');
  {
    // The email as a phone's mail app would show it (no script, nothing fetched).
    const view = await browser.newPage({ viewport: { width: 390, height: 700 }, javaScriptEnabled: false });
    await view.setContent(html);
    const overflow = await view.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 2) problems.push(`email: ${overflow}px wider than a phone`);
    await view.screenshot({ path: path.join(outDir, 'email-phone.png'), fullPage: true });
    await view.close();
  }
  const scoreUrl = text.split(/\s+/).find((w) => w.endsWith('&score=5'));
  if (!scoreUrl || !scoreUrl.startsWith(base)) throw new Error(`email: no score link of this server in:\n${text}`);
  if (!text.includes('Cliquez sur votre réponse')) problems.push('email: not in the customer\'s language');
  const answers = async () => (await (await api('GET', `/api/v1/customers/${customer}/export`)).json()).responses;
  // A mail scanner opens the link: the page shows the score, nothing is recorded.
  const scanned = await fetch(scoreUrl);
  if (scanned.status !== 200) problems.push(`email: the score link answers ${scanned.status}`);
  if ((await answers()).length !== 0) problems.push('email: a plain GET of the score link recorded an answer');
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`email: console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`email: page error: ${e}`));
  await page.goto(scoreUrl);
  await page.waitForURL(/q=2/);
  await page.fill('textarea', 'Livraison rapide, paiement simple');
  await page.screenshot({ path: path.join(outDir, 'survey-email-followup.png'), fullPage: true });
  await page.click('button[value=next]');
  await page.waitForURL(/q=3/);
  await page.click('label[for=v1]');
  await page.click('button[value=next]');
  await page.waitForURL(/done=1/);
  await page.close();
  const stored = await answers();
  const stars = stored[0]?.answers?.find((a) => a.metric === 'stars');
  if (stored.length !== 1 || stars?.score !== 5 || !stars?.comment?.includes('Livraison')) {
    problems.push(`email: stored ${JSON.stringify(stored)}`);
  }
  // A second purchase inside the month: throttled, with its reason.
  const again = await purchase(`ci-${customer}-2`, customer);
  if (again.outcome !== 'throttled' || !again.reason.includes('surveyed today (checkout)')) {
    problems.push(`email: second purchase decided ${JSON.stringify(again)}`);
  }
  const outbox = await (await api('GET', '/api/v1/outbox')).json();
  if (outbox.counts.sent !== 1) problems.push(`email: outbox ${JSON.stringify(outbox.counts)}`);
  console.log(`email: ${customer} invited by email, answered from the one-click score; second purchase throttled`);
}
await browser.close();
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('survey check passed');
