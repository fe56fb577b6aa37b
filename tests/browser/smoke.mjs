// Smoke test of the browser tooling: opens a data: page in headless Chromium, clicks its button,
// checks the title changed, and takes a screenshot to argv[2] (default /tmp/smoke.png).
// Prints {"ok":true} and exits 0, or prints the error and exits 1.
import { launch, watchConsole } from './browser.mjs';

const screenshot = process.argv[2] || '/tmp/smoke.png';
const url = `data:text/html,<button id=b onclick="document.title='clicked'">go</button>`;

let browser;
try {
  browser = await launch();
  const page = await browser.newPage();
  const errors = [];
  watchConsole(page, errors);
  await page.goto(url);
  await page.click('#b');
  await page.waitForFunction(() => document.title === 'clicked', null, { timeout: 5000 });
  const title = await page.title();
  if (title !== 'clicked') throw new Error(`title is ${JSON.stringify(title)}, not "clicked"`);
  await page.screenshot({ path: screenshot });
  if (errors.length > 0) throw new Error(`errors in the page:\n${errors.join('\n')}`);
  await browser.close();
  console.log(JSON.stringify({ ok: true }));
  process.exit(0);
} catch (error) {
  console.error(error);
  await browser?.close().catch(() => {});
  process.exit(1);
}
