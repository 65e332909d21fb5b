// The dashboard of `evolve serve` in headless chromium (docs/dashboard.md).
//
// Starts `evolve serve --port 0` with an API token on a throwaway SQLite
// store over synthetic bars whose planted signal gets promoted, then, as a
// user would: finds the Start Evolution form filled from GET /api/defaults,
// submits it (first without the token: 401 asks for it), watches the run reach a final state in the runs list,
// opens the run page (generation cards, SQN chart) and the promoted model
// (lineage tree of generation + 1 nodes, metrics against the criteria,
// equity curve, holdout verdict, DSR and PBO), the hall of fame and the
// job queue; a run whose finalist fails its holdout test (the run page says
// why it was not promoted); submits sqn_min > sqn_max and finds the error
// next to sqn_min; starts runs carrying
// `<script>` / `<img onerror>` text and finds it shown as text with no
// dialog. Fails on any page error or console error (CSP violations are
// console errors). Screenshots go to $EVOLVE_BROWSER_ARTIFACTS; with
// EVOLVE_DASHBOARD_DOCS_IMAGES=DIR also the docs' screenshots.
//
// Environment: EVOLVE_BIN, EVOLVE_BARS_BIN, EVOLVE_PLAYWRIGHT_DIR,
// EVOLVE_BROWSER_WORK, EVOLVE_BROWSER_ARTIFACTS; CHROMIUM (default
// /usr/bin/chromium).
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through ctest)`);
  return v;
};
const bin = env('EVOLVE_BIN');
const work = env('EVOLVE_BROWSER_WORK');
const artifacts = env('EVOLVE_BROWSER_ARTIFACTS');
const docsImages = process.env.EVOLVE_DASHBOARD_DOCS_IMAGES || '';
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const require = createRequire(path.join(env('EVOLVE_PLAYWRIGHT_DIR'), 'node_modules', 'x.js'));
const { chromium } = require('playwright-core');

const TOKEN = 'dashboard-test-token';
const started = Date.now();
let failures = 0;
function check(cond, what) {
  if (cond) {
    console.log(`ok    ${what}`);
  } else {
    failures++;
    console.log(`FAIL  ${what}`);
  }
}
function log(msg) { console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`); }

if (!fs.existsSync(chromiumPath)) {
  console.error(`no chromium at ${chromiumPath}: install it (scripts/install-deps.sh installs Debian's chromium)`);
  process.exit(1);
}

// ------------------------------------------------------------ the service

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(path.join(work, 'data'), { recursive: true });
fs.mkdirSync(artifacts, { recursive: true });
execFileSync(env('EVOLVE_BARS_BIN'), [path.join(work, 'data'), '6000', '0.35', '11', 'SYN']);

const server = spawn(bin, ['serve', '--port', '0', '--db', path.join(work, 'dashboard.db'), '--data-dir',
  path.join(work, 'data'), '--workers', '2'], {
  env: Object.assign({}, process.env, { EVOLVE_API_TOKEN: TOKEN, LOG_LEVEL: 'WARNING' }),
  stdio: ['ignore', 'pipe', 'pipe'],
});
let serverOut = '';
server.stdout.on('data', (d) => { serverOut += d; });
server.stderr.on('data', (d) => { serverOut += d; });
const base = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('evolve serve did not start: ' + serverOut)), 20000);
  const look = () => {
    const m = serverOut.match(/listening on (http:\/\/[0-9.]+:\d+)/);
    if (m) { clearTimeout(timer); resolve(m[1]); }
  };
  server.stdout.on('data', look);
  server.on('exit', (code) => reject(new Error(`evolve serve exited ${code}: ${serverOut}`)));
});
log(`evolve serve at ${base}`);

let browser = null;
try {
  // ---------------------------------------------------------- serving
  const index = await fetch(base + '/');
  const csp = index.headers.get('content-security-policy') || '';
  check(index.status === 200 && (index.headers.get('content-type') || '').startsWith('text/html'), 'GET / is HTML');
  check(csp.includes("default-src 'self'") && !/https?:/.test(csp), 'GET / forbids remote sources (CSP default-src \'self\')');
  check((index.headers.get('cache-control') || '').includes('no-cache') && !!index.headers.get('etag'), 'GET / has cache headers');
  const js = await fetch(base + '/dashboard/app.js');
  check(js.status === 200 && (js.headers.get('content-type') || '').startsWith('text/javascript'), 'app.js is JavaScript');
  const css = await fetch(base + '/dashboard/style.css');
  check(css.status === 200 && (css.headers.get('content-type') || '').startsWith('text/css'), 'style.css is CSS');
  const again = await fetch(base + '/', { headers: { 'If-None-Match': index.headers.get('etag') } });
  check(again.status === 304, 'GET / revalidates with its ETag (304)');
  const html = await index.text();
  check(!/(src|href)="(https?:)?\/\//.test(html), 'the page names no remote resource');

  // ---------------------------------------------------------- the browser
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  const dialogs = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    // 401/400 replies the test provokes are logged by chromium as failed loads.
    if (m.type() === 'error' && !/status of (400|401)/.test(m.text())) problems.push('console: ' + m.text() + ' (' + (m.location().url || '') + ')');
  });
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.setDefaultTimeout(30000);

  const shot = async (name, p = page) => {
    await p.screenshot({ path: path.join(artifacts, name + '.png') });
    if (docsImages) {
      fs.mkdirSync(docsImages, { recursive: true });
      await p.screenshot({ path: path.join(docsImages, 'dashboard-' + name + '.png') });
    }
  };

  await page.goto(base + '/');
  await page.waitForSelector('#status-panel .tiles');
  check((await page.locator('#status-panel .tile').count()) >= 6, 'overview shows the status tiles');
  await page.waitForSelector('#status-panel table.workers tbody tr td.mono');
  check((await page.locator('#status-panel table.workers tbody tr').count()) === 2, 'overview lists the 2 live workers');

  // ---------------------------------------------------------- start a run with the form
  // The form's defaults are GET /api/defaults' (the library's): changed
  // there (for this page only), changed in the form.
  const defaults = await (await fetch(base + '/api/defaults')).json();
  check(typeof defaults.sqn_min === 'number' && Array.isArray(defaults.thresholds), 'GET /api/defaults serves the run defaults');
  await page.route('**/api/defaults', (r) => r.fulfill({ contentType: 'application/json',
    body: JSON.stringify(Object.assign({}, defaults, { sqn_min: 2.5, max_generations: 9 })) }));
  await page.goto(base + '/#/start');
  await page.waitForSelector('select[name=symbol] option[value=SYN]', { state: 'attached' });
  await page.waitForSelector('#f-seed_features input[type=checkbox]');
  check((await page.locator('#f-seed_features input[type=checkbox]').count()) > 20, 'seed features come from /api/features/columns');
  check((await page.inputValue('[name="sqn_min"]')) === '2.5' && (await page.inputValue('[name="thresholds"]')) === defaults.thresholds.join(', ') &&
    (await page.getAttribute('[name="max_generations"]', 'placeholder')).includes('(9)'), 'the form shows the defaults of GET /api/defaults');
  await page.unroute('**/api/defaults');
  const fill = async (name, value) => page.fill(`[name="${name}"]`, String(value));
  await fill('sqn_min', 3);
  await fill('sqn_max', 100);
  await fill('profit_factor_min', 1.3);
  await fill('profit_factor_max', 100);
  await fill('trade_count_min', 100);
  await fill('weekly_consistency_max', 10);
  await page.click('#start-submit');
  await page.waitForSelector('#banner.warn');
  check((await page.textContent('#banner')).includes('API token'), 'a 401 asks for the API token');
  await page.fill('#token-input', TOKEN);
  await page.click('#token-form button');
  check((await page.inputValue('[name="sqn_min"]')) === '3', 'entering the token keeps the form as filled');
  await shot('start');
  await page.click('#start-submit');
  await page.waitForSelector('#new-run-link');
  const runId = (await page.textContent('#new-run-link')).trim();
  check(/^run_/.test(runId), `the form started ${runId}`);
  check(await page.evaluate(() => sessionStorage.getItem('evolve.token')) !== null, 'the token is kept in sessionStorage');

  // ---------------------------------------------------------- runs list: live until final
  await page.goto(base + '/#/runs');
  const row = page.locator(`tr[data-run-id="${runId}"]`);
  await row.waitFor();
  await page.waitForFunction((id) => {
    const r = document.querySelector(`tr[data-run-id="${id}"] .run-status .badge`);
    return r && ['PROMOTED', 'COMPLETED', 'FAILED', 'CANCELLED', 'STOPPED'].includes(r.textContent);
  }, runId, { timeout: 180000, polling: 250 });
  const status = await row.locator('.run-status .badge').textContent();
  log(`run ${runId} is ${status}`);
  check(status === 'PROMOTED', 'the run list shows the run PROMOTED (updated live, no reload)');
  check(/^\d+ \/ \d+$/.test((await row.locator('.progress-text').textContent()).trim()), 'the run list shows generation progress');
  check(/^-?\d+\.\d+$/.test((await row.locator('.run-sqn').textContent()).trim()), 'the run list shows the best SQN');
  await shot('runs');

  // ---------------------------------------------------------- run page
  await row.locator('a').first().click();
  await page.waitForSelector('.gen-card');
  await page.waitForSelector('svg.sqn-chart path.sqn-line');
  const gens = await (await fetch(`${base}/runs/${runId}/generations`)).json();
  check((await page.locator('.gen-card').count()) === gens.count, `the run page has ${gens.count} generation cards`);
  const d = await page.getAttribute('svg.sqn-chart path.sqn-line', 'd');
  check(/^M[\d.]+ [\d.]+/.test(d), 'the SQN chart draws its line');
  check((await page.locator('svg.sqn-chart circle.dot').count()) === gens.generations.filter((g) => g.best_sqn !== null).length,
    'the SQN chart has a point per evaluated generation');
  check((await page.locator('.gen-card').first().textContent()).includes('Top results'), 'generation cards show top results');
  // Research validity: the split, and per generation the trials, DSR, PBO and the holdout look.
  check((await page.textContent('#holdout-split')).includes('the last 20 % of the bars'), 'the run page states the holdout split');
  const lastCard = page.locator('.gen-card').last();
  const lastGen = gens.generations[gens.generations.length - 1];
  check((await lastCard.locator('.trials').textContent()).includes(`${lastGen.selection.trials} in this run`), 'the last generation card shows its trials');
  check((await lastCard.locator('.dsr').textContent()).startsWith(lastGen.selection.dsr.toFixed(3)), 'the last generation card shows its deflated Sharpe ratio');
  check((await lastCard.locator('.pbo').textContent()).startsWith(lastGen.selection.pbo.toFixed(3)), 'the last generation card shows its PBO');
  check((await lastCard.locator('.holdout').textContent()).includes('holdout PASS'), 'the promoting generation card shows its holdout verdict');
  const runDoc = await (await fetch(`${base}/runs/${runId}`)).json();
  check(runDoc.validity.holdout_looks === 1 && runDoc.validity.holdout.passed, 'GET /runs/{id} summarises the run\'s holdout look');
  check((await page.textContent('#holdout-looks')).includes(`1 in this run, ${runDoc.validity.prior_holdout_looks} in earlier runs`),
    'the run page counts the looks at the symbol\'s holdout');
  await shot('run');

  // ---------------------------------------------------------- promoted model page
  await page.click('#promotion-link');
  await page.waitForSelector('.lineage-node');
  await page.waitForSelector('svg.equity-chart path.equity-line');
  const promoted = (await (await fetch(`${base}/promoted`)).json()).promoted[0];
  const nodes = await page.locator('.lineage-node').count();
  check(nodes === promoted.generation + 1, `the lineage tree has generation + 1 = ${promoted.generation + 1} nodes (got ${nodes})`);
  check((await page.locator('.lineage-node[data-generation="0"] > .node-box > .node-gen').textContent()).includes('seed'), 'the lineage tree starts at the seed');
  const equityD = await page.getAttribute('svg.equity-chart path.equity-line', 'd');
  check((equityD.match(/L/g) || []).length > 100, 'the equity chart draws a curve of more than 100 points');
  const equity = await (await fetch(`${base}/promoted/${promoted.id}/equity`)).json();
  const ret = promoted.result.total_return_pct;
  check(Math.abs(equity.final_equity / equity.initial_cash * 100 - 100 - ret) <= 1e-7 * Math.max(1, Math.abs(ret)),
    'the equity curve ends at the promoted result\'s total return');
  check(equity.trade_count === promoted.trade_count, 'the equity replay has the promoted result\'s trade count');
  const verdicts = await page.locator('#criteria tr.criterion .badge').allTextContents();
  check(verdicts.length === 4 && verdicts.every((v) => v === 'pass'), 'the model page shows every criterion passed');
  check((await page.textContent('#simulation')).includes('Threshold'), 'the model page shows the simulation parameters');
  const holdoutText = await page.textContent('#holdout');
  check(holdoutText.includes('holdout PASS') && holdoutText.includes(`SQN ${promoted.holdout.result.sqn.toFixed(3)}`),
    'the model page shows the holdout verdict and the holdout SQN');
  const selectionText = await page.textContent('#selection');
  check(selectionText.includes(promoted.selection.dsr.toFixed(3)) && selectionText.includes(promoted.selection.pbo.toFixed(3)),
    'the model page shows the promotion\'s DSR and PBO');
  await shot('model');
  await page.locator('#equity').scrollIntoViewIfNeeded();
  await page.evaluate(() => document.querySelector('#equity').scrollIntoView({ block: 'start' }));
  await shot('model-equity');

  await page.goto(base + '/#/promoted');
  await page.waitForSelector('tr.promoted-row');
  const promotedRow = page.locator(`tr.promoted-row[data-promotion-id="${promoted.id}"]`);
  check((await promotedRow.locator('.holdout-sqn').textContent()) === promoted.holdout.result.sqn.toFixed(3) &&
    (await promotedRow.locator('.dsr').textContent()) === promoted.selection.dsr.toFixed(3),
    'the hall of fame shows each model\'s holdout SQN and DSR');

  // ---------------------------------------------------------- a finalist rejected on the holdout
  const rejectedPost = await fetch(`${base}/evolve`, {
    method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ symbol: 'SYN', max_generations: 2, sqn_min: 3, sqn_max: 100, profit_factor_min: 1.3, profit_factor_max: 100,
      trade_count_min: 100, weekly_consistency_max: 10, holdout_sqn_min: 1000 }) });
  const rejectedId = (await rejectedPost.json()).run_id;
  let rejected = null;
  for (let i = 0; i < 600 && !(rejected && !['PENDING', 'RUNNING'].includes(rejected.run.status)); i++) {
    await new Promise((r) => setTimeout(r, 250));
    rejected = await (await fetch(`${base}/runs/${rejectedId}`)).json();
  }
  check(rejected.run.stop_reason === 'holdout_rejected', `a run whose finalist fails the holdout ends holdout_rejected (${rejected.run.stop_reason})`);
  await page.goto(`${base}/#/runs/${rejectedId}`);
  await page.waitForSelector('#outcome');
  const outcome = await page.textContent('#outcome');
  check(outcome.includes(`the finalist of generation ${rejected.validity.holdout.generation} failed its holdout confirmation: FAIL`) &&
    outcome.includes('< min 1000'), 'the run page says which finalist failed its holdout confirmation and why');
  check((await page.locator('.gen-card .holdout[data-passed="false"]').count()) === 1, 'the generation card shows holdout FAIL');
  await shot('promoted');

  // ---------------------------------------------------------- bad form value: the error sits by its field
  await page.goto(base + '/#/start');
  await page.waitForSelector('#f-seed_features input[type=checkbox]');
  await fill('sqn_min', 9);
  await fill('sqn_max', 1);
  await page.click('#start-submit');
  const sqnError = page.locator('[data-field="sqn_min"] .field-error');
  await sqnError.waitFor();
  check((await sqnError.textContent()).includes('must be <= sqn_max'), 'sqn_min > sqn_max: the error is shown next to sqn_min');
  check(await page.locator('[data-field="sqn_min"]').evaluate((e) => e.classList.contains('invalid')), 'the sqn_min field is marked invalid');
  await sqnError.scrollIntoViewIfNeeded();
  await shot('form-error');

  // ---------------------------------------------------------- hostile text renders as text
  await page.goto(base + '/#/start');
  await page.reload();  // the same URL: start from a fresh form
  await page.waitForSelector('#f-seed_features input[type=checkbox]');
  await fill('max_generations', 1);
  await fill('seed_model_id', '<script>alert(1)</script><img src=x onerror=alert(2)>');
  await fill('hyperparameters', '{"<img src=x onerror=alert(3)>": 1}');
  await page.click('#start-submit');
  await page.waitForSelector('[data-field="hyperparameters"] .field-error:not(:empty), #new-run-link');
  const hpError = await page.locator('[data-field="hyperparameters"] .field-error').textContent();
  log(`hyperparameters error: ${hpError}`);
  check(hpError.includes('<img src=x onerror=alert(3)>'), 'an error quoting <img onerror> shows it as text');
  await fill('hyperparameters', '{}');
  // A symbol the select does not offer, as a crafted request would send it.
  await page.evaluate(() => {
    const s = document.querySelector('select[name=symbol]');
    const o = document.createElement('option');
    o.value = '<script>alert(4)</script>';
    o.textContent = 'hostile';
    s.append(o);
    s.value = o.value;
  });
  await page.click('#start-submit');
  await page.locator('[data-field="symbol"] .field-error:not(:empty)').waitFor();
  check(true, 'a bad symbol gets its error next to the symbol field');
  await page.selectOption('select[name=symbol]', 'SYN');
  await page.click('#start-submit');
  // A seed model that does not exist is refused before the run is stored,
  // and the refusal quotes the hostile id back: as text.
  const seedError = page.locator('[data-field="seed_model_id"] .field-error:not(:empty)');
  await seedError.waitFor();
  const errText = await seedError.textContent();
  check(errText.includes("no model '<script>alert(1)</script><img src=x onerror=alert(2)>'"), `the seed_model_id error shows the <script> text as text (${errText})`);
  check((await page.locator('#view script, #view img').count()) === 0, 'no script or img element came from API text');
  await shot('xss');

  // ---------------------------------------------------------- job queue (protected: uses the token)
  await page.goto(base + '/#/jobs');
  await page.waitForSelector('#jobs table.jobs');
  check(!(await page.isVisible('#banner.warn')), 'the job queue loads with the token');
  check((await page.textContent('#jobs table.jobs thead')).includes('Kind'), 'the job queue shows each job\'s kind (simulate, train, assemble)');
  await shot('jobs');

  await page.goto(base + '/');
  await page.waitForFunction(() => document.querySelectorAll('#view table.runs tr.run-row').length >= 2);
  await shot('overview');

  // ---------------------------------------------------------- a phone
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  const pp = await phone.newPage();
  pp.on('pageerror', (e) => problems.push('phone page error: ' + e.message));
  await pp.goto(`${base}/#/runs/${runId}`);
  await pp.waitForSelector('svg.sqn-chart path.sqn-line');
  const overflow = await pp.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `on a phone the run page fits the width (overflow ${overflow}px)`);
  await shot('phone-run', pp);
  await phone.close();

  check(dialogs.length === 0, `no alert or dialog fired (${dialogs.join(', ')})`);
  check(problems.length === 0, `no page or console error${problems.length ? ': ' + problems.join(' | ') : ''}`);
} catch (e) {
  failures++;
  console.log('FAIL  ' + (e && e.stack ? e.stack : e));
} finally {
  if (browser) await browser.close().catch(() => {});
  server.kill('SIGTERM');
  await new Promise((resolve) => {
    const t = setTimeout(() => { server.kill('SIGKILL'); resolve(); }, 10000);
    server.on('exit', () => { clearTimeout(t); resolve(); });
    if (server.exitCode !== null) { clearTimeout(t); resolve(); }
  });
}
log(`screenshots in ${artifacts}`);
if (failures) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
log('every check passed');
