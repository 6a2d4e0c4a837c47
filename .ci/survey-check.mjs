// Answers a survey of a running `cxray serve` in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core), as a customer would: a personal link made through the admin API,
// a star chosen with the keyboard, the reason typed, "Yes" clicked, the thank-you page; then an
// email's one-click score, which the page sends by itself. Checks
// that no page logs an error or fetches anything from elsewhere, that each fits a phone screen,
// and that every question has a label; writes screenshots (desktop and phone) into OUT_DIR.
//
//   node .ci/survey-check.mjs http://127.0.0.1:PORT ADMIN_KEY OUT_DIR
import { chromium } from 'playwright-core';
import path from 'node:path';

const [base, key, outDir] = process.argv.slice(2);
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
await browser.close();
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('survey check passed');
