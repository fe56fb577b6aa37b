// The dashboard's browser checks, driven by tests/dashboard.rs against a real `upshift serve` with
// real rollouts. Reads its inputs from the UPSHIFT_DASHBOARD environment variable (JSON):
//   base        the server's address
//   operator    an operator token, viewer a viewer token
//   live        a rollout that is running (bakes of several seconds)
//   broken      a rollout that rolled back on a failing verification
//   approval    a rollout awaiting approval before its first stage
//   settled     { id: phase } of rollouts whose phase no longer changes
//   failing     the measurement the broken rollout's verifier failed on
//   out         where screenshots go
// Prints one JSON line per check passed, and a last line {"ok": true}; on the first failed check,
// prints {"ok": false, "failed": "..."} and exits 1. Every console error and uncaught page error of
// every page fails the run.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch, watchConsole } from './browser.mjs';

const input = JSON.parse(process.env.UPSHIFT_DASHBOARD || '{}');
const { base, operator, viewer, live, broken, approval, settled, failing, out } = input;
const WAIT = 60_000;

function passed(check, detail = {}) {
  console.log(JSON.stringify({ check, ...detail }));
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function signIn(browser, token, width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  watchConsole(page, errors);
  await page.goto(`${base}/`);
  assert(new URL(page.url()).pathname === '/login', `an anonymous visitor is sent to /login, not ${page.url()}`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`);
  return { context, page };
}

const errors = [];
const browser = await launch();
try {
  mkdirSync(out, { recursive: true });

  // Sign-in: a wrong token is refused on the page; a right one lands on the table, in a cookie
  // scripts cannot read and other sites do not send. (The refusal's 401 is the one console message
  // Chromium logs on purpose here, so this page alone is not watched.)
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.getByLabel('API token').fill('upshift_0000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#login-error').waitFor();
    assert((await page.locator('#login-error').textContent()).includes('unknown token'), 'a wrong token is named unknown');
    await context.close();
    passed('a wrong token is refused at sign-in');
  }
  const ops = await signIn(browser, operator);
  const cookies = await ops.context.cookies();
  const session = cookies.find((c) => c.name === 'upshift_session');
  assert(session && session.httpOnly && session.sameSite === 'Strict', `session cookie: ${JSON.stringify(session)}`);
  assert(!(await ops.page.evaluate(() => document.cookie)).includes('upshift_session'), 'scripts cannot read the cookie');
  assert((await ops.page.locator('#whoami').textContent()).includes('(operator)'), 'the header names the role');
  passed('sign-in keeps the token in an HttpOnly SameSite=Strict cookie');

  // The table: every rollout with its phase, newest first; the filter narrows it.
  {
    const page = ops.page;
    for (const [id, phase] of Object.entries(settled)) {
      await page.locator(`#rollout-rows tr[data-id="${id}"][data-phase="${phase}"]`).waitFor({ timeout: WAIT });
    }
    const liveRow = page.locator(`#rollout-rows tr[data-id="${live}"]`);
    await liveRow.waitFor();
    const ids = await page.locator('#rollout-rows tr').evaluateAll((rows) => rows.map((r) => r.dataset.id));
    assert(ids[0] === live, `newest first: ${ids}`);
    const badge = await page.locator(`#rollout-rows tr[data-id="${broken}"] .badge`).textContent();
    assert(badge.trim() === 'rolled-back', `the broken rollout's badge says ${badge}`);
    await page.screenshot({ path: join(out, 'dashboard-list.png'), fullPage: true });
    await page.selectOption('#phase-filter', 'rolled-back');
    await page.waitForFunction(
      (b) => [...document.querySelectorAll('#rollout-rows tr')].every((r) => r.dataset.phase === 'rolled-back')
        && document.querySelector(`#rollout-rows tr[data-id="${b}"]`),
      broken,
    );
    assert(new URL(page.url()).searchParams.get('phase') === 'rolled-back', 'the filter is in the address');
    await page.selectOption('#phase-filter', '');
    await page.locator(`#rollout-rows tr[data-id="${live}"]`).waitFor();
    // By part of a name, as it is typed.
    const name = await page.locator(`#rollout-rows tr[data-id="${approval}"] td.name a`).textContent();
    await page.fill('#name-filter', name.slice(0, 5));
    await page.waitForFunction(
      (a) => {
        const rows = [...document.querySelectorAll('#rollout-rows tr')];
        return rows.length >= 1 && rows.some((r) => r.dataset.id === a)
          && rows.every((r) => r.querySelector('td.name a').textContent.includes(document.getElementById('name-filter').value));
      },
      approval,
    );
    await page.fill('#name-filter', '');
    await page.locator(`#rollout-rows tr[data-id="${live}"]`).waitFor();
    passed('the table lists every rollout with its phase, newest first, and filters by phase and name', { rows: ids.length });
  }

  // A running rollout's page follows it through a bake into what comes next, without a reload.
  {
    const page = ops.page;
    await page.goto(`${base}/rollouts/${live}`);
    await page.evaluate(() => { window.__loadedOnce = true; });
    await page.locator('body[data-live="on"]').waitFor({ timeout: WAIT });
    const baking = page.locator('#timeline li[data-status="baking"]');
    await baking.waitFor({ timeout: WAIT });
    const stage = await baking.getAttribute('data-stage');
    const countdown = await baking.locator('.countdown').textContent();
    assert(/\d+ s left/.test(countdown), `a baking stage counts down: ${countdown}`);
    await page.locator(`#timeline li[data-stage="${stage}"][data-status="verified"]`).waitFor({ timeout: WAIT });
    await page.waitForFunction(
      (s) => {
        const live = document.getElementById('live');
        return Number(live.dataset.stage) > Number(s) || ['finalizing', 'succeeded'].includes(live.dataset.phase);
      },
      stage,
      { timeout: WAIT },
    );
    assert(await page.evaluate(() => window.__loadedOnce === true), 'the page was not reloaded');
    const navigations = await page.evaluate(() => performance.getEntriesByType('navigation').length);
    assert(navigations === 1, `one navigation, not ${navigations}`);
    const progress = await page.locator('#progress-chart circle').count();
    assert(progress >= 2, `the progress chart has its read-backs (${progress} points)`);
    passed('a rollout page updates live through a bake into the next stage', { stage: Number(stage), countdown });
  }

  // A failed verification: the failing measurement, the verdict, and the rollback.
  {
    const page = ops.page;
    await page.goto(`${base}/rollouts/${broken}`);
    assert((await page.locator('#live').getAttribute('data-phase')) === 'rolled-back', 'the page says rolled-back');
    const failure = page.locator('#last-failure');
    await failure.waitFor();
    assert(await failure.locator(`tr[data-name="${failing}"]`).count() === 1, `the failing measurement ${failing} is shown`);
    assert((await failure.locator('.message').textContent()).includes('fail'), 'the verdict says fail');
    assert(await page.locator('#timeline li[data-status="rolled-back"]').count() >= 1, 'the timeline shows the rollback');
    assert(await page.locator(`#charts figure[data-series="${failing}"] circle.failed`).count() >= 1, 'the chart marks the failing point');
    await page.selectOption('#audit-kind', 'transitions');
    await page.waitForFunction(() => document.getElementById('audit').dataset.kind === 'transitions'
      && [...document.querySelectorAll('#audit-rows tr')].every((r) => r.dataset.kind === 'transition'));
    const rollbackRows = await page.locator('#audit-rows tr', { hasText: 'rolled-back' }).count();
    assert(rollbackRows >= 1, 'the audit trail shows the transition to rolled-back');
    await page.selectOption('#audit-kind', 'all');
    await page.waitForFunction(() => document.getElementById('audit').dataset.kind === 'all');
    await page.screenshot({ path: join(out, 'dashboard-rollout.png'), fullPage: true });
    passed('a failed verification shows the failing measurement and the rollback', { failing });
  }

  // Approve from the page, with the keyboard: the rollout moves on.
  {
    const page = ops.page;
    await page.goto(`${base}/rollouts/${approval}`);
    await page.locator('#live[data-phase="awaiting-approval"]').waitFor({ timeout: WAIT });
    await page.locator('body[data-live="on"]').waitFor({ timeout: WAIT });
    let reached = false;
    for (let i = 0; i < 40 && !reached; i += 1) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.dataset?.action === 'approve');
    }
    assert(reached, 'the approve button is reachable with the keyboard');
    await page.keyboard.press('Enter');
    const dialog = page.locator('#confirm');
    await dialog.waitFor({ state: 'visible' });
    await page.locator('#confirm-yes').click();
    await page.waitForFunction(
      () => document.getElementById('live').dataset.phase !== 'awaiting-approval'
        || document.getElementById('live').dataset.stage !== '0',
      null,
      { timeout: WAIT },
    );
    const said = await page.locator('#action-status').textContent();
    assert(said.includes('approve: done'), `the page says the approval was taken: ${said}`);
    passed('approve from the page moves an awaiting rollout on');
  }

  // A viewer sees the controls disabled, and the server refuses them anyway.
  {
    const { context, page } = await signIn(browser, viewer);
    await page.goto(`${base}/rollouts/${live}`);
    const buttons = page.locator('#actions button');
    const count = await buttons.count();
    assert(count === 4, `four controls, not ${count}`);
    for (let i = 0; i < count; i += 1) {
      assert(await buttons.nth(i).isDisabled(), `control ${i} is disabled for a viewer`);
    }
    assert(await page.locator('#viewer-hint').isVisible(), 'the page says why');
    // Sent as the page would, but outside it (the page would log the 403 as a console error).
    const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');
    const response = await context.request.post(`${base}/ui/rollouts/${live}/abort`, {
      headers: { 'X-CSRF-Token': csrf, Origin: base },
      form: { csrf, js: '1' },
    });
    const refused = { status: response.status(), text: await response.text() };
    assert(refused.status === 403 && refused.text.includes('viewer'), `the server refuses a viewer: ${JSON.stringify(refused)}`);
    await context.close();
    passed('a viewer cannot act', { status: refused.status });
  }

  // Phone width: the table fits without scrolling the page sideways.
  {
    const { context, page } = await signIn(browser, viewer, 390);
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    assert(fits, 'the table fits a phone-width screen');
    await page.goto(`${base}/rollouts/${broken}`);
    const fitsRollout = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    assert(fitsRollout, 'a rollout page fits a phone-width screen');
    await page.screenshot({ path: join(out, 'dashboard-phone.png'), fullPage: false });
    await context.close();
    passed('readable at phone width');
  }

  assert(errors.length === 0, `console errors: ${errors.join(' | ')}`);
  passed('no console errors');
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, failed: String(e?.message ?? e), errors }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
