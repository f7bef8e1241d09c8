// The console with REST auth on (test_console.py, auth run): the sign-in
// dialog comes first, a wrong token is refused with a visible message, a
// readonly token shows the pages with changes disabled and the reason, an
// admin token can change things, every API call carries the Bearer header,
// sign-out forgets the token. Screenshots beside the other artifacts.
import { chromium } from 'playwright-core';
import axe from 'axe-core';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const env = process.env;
const URL_ = env.STRATA_LEADER;
const ART = env.STRATA_ARTIFACTS;
const ADMIN = env.STRATA_ADMIN_TOKEN;
const RO = env.STRATA_RO_TOKEN;
const ADMIN2 = env.STRATA_ADMIN2_TOKEN; // made readonly mid-flow below
const problems = [];

async function axeCheck(page, label) {
  await page.evaluate(axe.source);
  const res = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  for (const v of res.violations)
    if (v.impact === 'serious' || v.impact === 'critical')
      problems.push(`${label}: axe ${v.impact} ${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).join('; ')})`);
}

async function signIn(page, token) {
  const dlg = page.getByRole('dialog', { name: 'Sign in' });
  await dlg.waitFor();
  await dlg.getByLabel('Token').fill(token);
  await dlg.getByRole('button', { name: 'Sign in' }).click();
}

const browser = await chromium.launch({
  executablePath: env.STRATA_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', e => problems.push(`page error: ${e.message}`));
  const apiCalls = [];
  page.on('request', r => { if (r.url().includes('/api/v1/')) apiCalls.push(r); });

  // 1. No token: the dialog, nothing of the cluster.
  await page.goto(`${URL_}/#/overview`);
  const dlg = page.getByRole('dialog', { name: 'Sign in' });
  await dlg.waitFor();
  await page.getByText('This strata cluster needs a token.').waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Health' }).count(), 0);
  await axeCheck(page, 'sign-in dialog');
  await page.screenshot({ path: path.join(ART, 'auth-signin-1280.png'), fullPage: true });
  // Escape does not get past it.
  await page.keyboard.press('Escape');
  assert.ok(await dlg.isVisible(), 'Escape closed the sign-in dialog');

  // 2. A wrong token: refused in place, visibly.
  await signIn(page, RO.slice(0, -1) + (RO.endsWith('0') ? '1' : '0'));
  await dlg.getByRole('alert').filter({ hasText: 'That token was not accepted' }).waitFor();
  assert.equal(await dlg.getByLabel('Token').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('strata.token')), null);
  await page.screenshot({ path: path.join(ART, 'auth-wrong-token-1280.png'), fullPage: true });

  // 3. The readonly token: pages render, changes are disabled with a reason.
  await dlg.getByLabel('Token').fill(RO);
  await dlg.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Health' }).waitFor();
  await page.locator('.stat', { hasText: 'live' }).waitFor();
  await page.getByText('Signed in · readonly token').waitFor();
  await page.goto(`${URL_}/#/mounts`);
  await page.locator('td', { hasText: /^\/data$/ }).first().waitFor();
  const add = page.getByRole('button', { name: 'Add mount' });
  assert.ok(await add.isDisabled(), 'Add mount is enabled for a readonly token');
  assert.ok(await page.getByRole('button', { name: 'Unmount /data' }).isDisabled());
  assert.ok(await page.getByRole('button', { name: 'Edit the options of /data' }).isDisabled());
  await page.locator('#readonly-note', { hasText: 'changes need an admin token' }).waitFor();
  await axeCheck(page, 'mounts, readonly');
  await page.screenshot({ path: path.join(ART, 'auth-readonly-mounts-1280.png'), fullPage: true });
  // the masters forms and a directory's policies too
  await page.goto(`${URL_}/#/masters`);
  await page.locator('td .badge', { hasText: 'leader' }).waitFor();
  assert.ok(await page.getByRole('button', { name: 'Add master' }).isDisabled());
  for (const b of await page.getByRole('button', { name: /^Remove master / }).all())
    assert.ok(await b.isDisabled(), 'Remove master is enabled for a readonly token');
  await page.goto(`${URL_}/#/browse?path=%2Fdata`);
  await page.locator('summary', { hasText: 'Policies of this directory' }).click();
  const pol = page.getByRole('region', { name: 'Policies of this directory' });
  await pol.locator('.readonly-note', { hasText: 'changes need an admin token' }).waitFor();
  for (const name of ['Pin', 'Set TTL', 'Set replication'])
    assert.ok(await pol.getByRole('button', { name, exact: true }).isDisabled(), `${name} is enabled for readonly`);
  for (const name of ['Set write type', 'Persist all to the store'])
    assert.ok(await pol.getByRole('button', { name, exact: true }).isDisabled(), `${name} is enabled for readonly`);
  await axeCheck(page, 'policies, readonly');
  // No decommission control at all for a readonly token, and the reason.
  await page.goto(`${URL_}/#/workers`);
  await page.locator('td .badge', { hasText: 'live' }).waitFor();
  await page.locator('.readonly-note', { hasText: 'changes need an admin token' }).waitFor();
  assert.equal(await page.getByRole('button', { name: /^Decommission/ }).count(), 0,
    'a readonly token sees a Decommission button');
  await axeCheck(page, 'workers, readonly');
  await page.screenshot({ path: path.join(ART, 'auth-readonly-workers-1280.png'), fullPage: true });

  // 4. Sign out: the token is forgotten, the dialog is back.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await dlg.waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('strata.token')), null);

  // 5. The admin token: changes allowed, and they work.
  const before = apiCalls.length;
  await signIn(page, ADMIN);
  await page.getByText('Signed in · admin token').waitFor();
  await page.goto(`${URL_}/#/mounts`);
  await page.locator('td', { hasText: /^\/data$/ }).first().waitFor();
  assert.ok(await add.isEnabled(), 'Add mount is disabled for an admin token');
  assert.ok(await page.getByRole('button', { name: 'Edit the options of /data' }).isEnabled(),
    'Edit is disabled for an admin token');
  await page.getByLabel('Mount point').fill('/added');
  await page.getByLabel('Directory').fill(env.STRATA_FORM_DIR);
  await add.click();
  await page.locator('td', { hasText: /^\/added$/ }).first().waitFor();
  await page.screenshot({ path: path.join(ART, 'auth-admin-mounts-1280.png'), fullPage: true });
  const sent = apiCalls.slice(before).filter(r => !r.url().endsWith('/api/v1/auth'));
  assert.ok(sent.length > 0);
  for (const r of sent)
    assert.equal(r.headers().authorization, `Bearer ${ADMIN}`, `${r.method()} ${r.url()} without the token`);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('strata.token')), ADMIN);

  // 6. The API's refusal of a decommission, in the dialog: a second admin
  // token is made readonly (its line in the token file, id:role:...) while
  // the dialog is open, so the page still offers the button and the master
  // answers 403.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, ADMIN2);
  await page.getByText('Signed in · admin token').waitFor();
  await page.goto(`${URL_}/#/workers`);
  await page.getByRole('button', { name: /^Decommission worker \d+ / }).click();
  const decom = page.getByRole('dialog', { name: /^Decommission worker/ });
  await decom.getByRole('heading', { name: /^Decommission worker \d+ \(127\.0\.0\.1:\d+\)\?$/ }).waitFor();
  const file = env.STRATA_TOKEN_FILE;
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex(l => l.startsWith(`${env.STRATA_ADMIN2_ID}:admin:`));
  assert.ok(at >= 0, 'the second admin token is not in the token file');
  lines[at] = lines[at].replace(':admin:', ':readonly:');
  writeFileSync(`${file}.tmp`, lines.join('\n'), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  for (let tries = 0; ; tries++) { // daemons re-read the file within a second
    const r = await page.request.post(`${URL_}/api/v1/workers/decommission`,
      { headers: { Authorization: `Bearer ${ADMIN2}` }, data: { id: '999999' } });
    if (r.status() === 403) break;
    assert.ok(tries < 50, `the token is still admin (${r.status()})`);
    await page.waitForTimeout(100);
  }
  await decom.getByRole('button', { name: /^Decommission 127\.0\.0\.1:\d+$/ }).click();
  await decom.getByRole('alert').filter({ hasText: /^Decommissioning worker \d+: token role readonly .*\(forbidden\)$/ }).waitFor();
  assert.ok(await decom.isVisible(), 'the dialog closed on a refusal');
  await page.getByText('Signed in · readonly token').waitFor(); // the header caught up
  await axeCheck(page, 'decommission refused');
  await page.screenshot({ path: path.join(ART, 'auth-decommission-refused-1280.png'), fullPage: true });
  // and the page's next refresh (5 s) drops the control it cannot use now
  await decom.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('button', { name: /^Decommission worker/ }).waitFor({ state: 'detached', timeout: 15000 });
  const workers = await (await page.request.get(`${URL_}/api/v1/workers`, { headers: { Authorization: `Bearer ${ADMIN}` } })).json();
  assert.deepEqual(workers.workers.map(w => w.state), ['live'], 'the refused decommission changed a worker');
  await context.close();
} catch (e) {
  failed = true;
  console.log(`FAIL: ${e.stack || e}`);
} finally {
  await browser.close();
}
for (const p of problems) console.log(`PROBLEM: ${p}`);
if (failed || problems.length) process.exit(1);
console.log('console auth e2e: sign-in, wrong token, readonly, sign-out, admin and a refused decommission passed');
