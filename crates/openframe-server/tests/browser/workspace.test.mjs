// The workspace page in Debian's headless Chromium, driven by playwright-core (never a downloaded browser).
// Run by crates/openframe-http/tests/workspace_browser.rs, which sets:
//   OPENFRAME_BIN       the `openframe` binary (this script starts it, kills it, and starts it again)
//   OPENFRAME_STORE_DIR a fresh directory for its SQLite store
//   OPENFRAME_EXAMPLES  docs/examples (the reference's POST and PATCH bodies, sent verbatim)
//   OPENFRAME_SCREENSHOT  where to save the screenshot
//   CHROMIUM            the browser (default /usr/bin/chromium)
// It sends the requests itself (fetch, as curl would) and checks the page shows each change within a second.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';

import { chromium } from 'playwright-core';

const BIN = required('OPENFRAME_BIN');
const STORE = `sqlite://${join(required('OPENFRAME_STORE_DIR'), 'openframe.db')}`;
const USER = 'admin';
const PASSWORD = 'workspace-browser-test-password';
const EXAMPLES = required('OPENFRAME_EXAMPLES');
const SCREENSHOT = required('OPENFRAME_SCREENSHOT');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** The issue's promise: a change shows on the page within a second. */
const WITHIN_MS = 1000;
/** How long to wait before calling something missing (the measured time is then asserted). */
const PATIENCE_MS = 15_000;

/** Flags that work on a machine without network: no background connections, no sandbox (root in CI). */
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (crates/openframe-http/tests/workspace_browser.rs sets it)`);
  return value;
}

/** A running `openframe serve`; `base` is its URL. */
class Server {
  static async start(listen = '127.0.0.1:0') {
    const env = { ...process.env, OPENFRAME_ADMIN_PASSWORD: PASSWORD };
    delete env.OPENFRAME_LISTEN;
    delete env.OPENFRAME_STORE;
    const child = spawn(BIN, ['serve', '--listen', listen, '--store', STORE], {
      env, stdio: ['ignore', 'ignore', 'pipe'],
    });
    const lines = createInterface({ input: child.stderr });
    const seen = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    for await (const line of lines) {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        lines.on('line', () => {}); // keep draining stderr
        return Object.assign(new Server(), { child, base: match[1] });
      }
      seen.push(line);
    }
    clearTimeout(timer);
    throw new Error(`openframe did not start: ${seen.join(' | ')}`);
  }

  get listen() {
    return new URL(this.base).host;
  }

  /** Sends `signal`; resolves to the exit code (null when killed by the signal). */
  async stop(signal) {
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    const [code] = await exited;
    return code;
  }
}

let server = null;

/** A request as curl sends it: Basic auth, JSON in and out. */
async function api(method, path, body) {
  const response = await fetch(new URL(path, server.base), {
    method,
    headers: {
      Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
      Accept: 'application/json',
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body,
  });
  const text = await response.text();
  assert.equal(response.status, 200, `${method} ${path}: ${text}`);
  return JSON.parse(text).result;
}

/** A Table API delete as curl sends it: 204 and no body. */
async function remove(path) {
  const response = await fetch(new URL(path, server.base), {
    method: 'DELETE',
    headers: { Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` },
  });
  assert.equal(response.status, 204, `DELETE ${path}: ${await response.text()}`);
}

/** Runs `send`, then waits for `shown(answer)`; asserts the page showed it within a second of the answer. */
async function timeToShow(label, send, shown) {
  const answer = await send();
  const answered = performance.now();
  await shown(answer);
  const ms = Math.round(performance.now() - answered);
  console.log(`workspace: ${label} showed ${ms} ms after the API answered`);
  assert.ok(ms <= WITHIN_MS, `${label} took ${ms} ms to show (at most ${WITHIN_MS} ms)`);
  return answer;
}

test('the workspace shows a call as it arrives and each update to it', async (t) => {
  server = await Server.start();
  t.after(() => server?.child.exitCode === null && server.child.kill('SIGKILL'));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(PATIENCE_MS);
  const problems = [];
  // While the test takes the server down, failed stream requests are expected (and logged by Chromium).
  let serverDown = false;
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // A CSP violation or a failed module load shows as a console error; so would a broken fetch. The
    // expected ones: Chromium's note on the wrong password's 401, and failed requests while the server is down.
    const text = message.text();
    const expected = /Failed to load resource: .* 401/.test(text)
      || (serverDown && /Failed to load resource|net::ERR_/.test(text));
    if (message.type() === 'error' && !expected) problems.push(`console error: ${text}`);
  });
  page.on('dialog', (dialog) => {
    problems.push(`unexpected dialog: ${dialog.message()}`);
    dialog.dismiss();
  });

  const createBody = await readFile(join(EXAMPLES, 'create.json'), 'utf8');
  const updateBody = await readFile(join(EXAMPLES, 'update.json'), 'utf8');

  await page.goto(new URL('/workspace', server.base).href);

  // A wrong password is refused by a real API call, with a message and no browser prompt.
  await page.fill('#user-name', USER);
  await page.fill('#password', `${PASSWORD}-wrong`);
  await page.click('#sign-in-button');
  await page.locator('#sign-in-error').filter({ hasText: 'User name or password is wrong.' }).waitFor();
  assert.equal(await page.isVisible('#workspace-view'), false);

  await page.fill('#password', PASSWORD);
  await page.click('#sign-in-button');
  await page.locator('#workspace-view').waitFor();
  assert.equal(await page.inputValue('#password'), '', 'the password field is cleared');
  await page.check('input[name="scope"][value="all"]');
  await page.locator('#stream-status[data-status="live"]').waitFor();

  // The reference's POST: the call appears in the list.
  const rowOf = (sysId) => page.locator(`#interaction-list button[data-sys-id="${sysId}"]`);
  const created = await timeToShow('the created call',
    () => api('POST', '/api/now/openframe/voice-interaction', createBody),
    (answer) => rowOf(answer.sysId).waitFor());
  const row = rowOf(created.sysId);
  assert.match(await row.innerText(), new RegExp(created.number));

  // Its detail: caller, state badge, phone logs with their timeline, related records, context.
  await row.click();
  const detail = page.locator(`#detail .detail[data-sys-id="${created.sysId}"]`);
  await detail.waitFor();
  assert.equal(await detail.locator('[data-field="user_phone_number"]').innerText(), '+1303506536');
  assert.equal(await detail.locator('[data-field="caller_phone_number"]').innerText(), '+14089965744');
  assert.equal(await detail.locator('#detail-state').getAttribute('data-state'), 'new');
  assert.equal(await detail.locator('[data-field="short_description"]').innerText(), 'New outbound call');
  assert.equal(await detail.locator('table.phone-logs tbody tr').count(), 3);
  assert.equal(await detail.locator('svg.timeline rect.timeline-bar').count(), 3);
  assert.equal(await detail.locator('svg.timeline rect.timeline-bar.open').count(), 3, 'no log has ended yet');
  assert.equal(await detail.locator('table.related-records tbody tr').count(), 2);
  assert.match(await detail.locator('table.context').innerText(), /requester_session_language\s+en-US/);

  // The reference's PATCH: the new description shows in the detail pane and the list.
  const updatedDescription = detail.locator('[data-field="short_description"]', { hasText: 'New Poonam outbound call' });
  await timeToShow('the reference PATCH',
    () => api('PATCH', `/api/now/openframe/voice-interaction/${created.sysId}`, updateBody),
    () => updatedDescription.waitFor());
  await row.filter({ hasText: 'New Poonam outbound call' }).waitFor();

  // A PATCH that moves the state and ends a call: the badge and the timeline follow.
  const callEnded = JSON.stringify({
    interaction: { additionalParams: { state: 'work_in_progress' } },
    phoneLogs: [{ call_id: '2323223', end_time: '2024-11-04 21:49:30' }],
  });
  await timeToShow('the state change and the ended call',
    () => api('PATCH', `/api/now/openframe/voice-interaction/${created.sysId}`, callEnded),
    () => page.waitForFunction(() => {
      const badge = document.querySelector('#detail-state');
      const closed = document.querySelectorAll('svg.timeline rect.timeline-bar:not(.open)');
      return badge?.dataset.state === 'work_in_progress' && closed.length === 1;
    }, null, { timeout: PATIENCE_MS }));
  assert.match(await row.innerText(), /work in progress/i);

  // The server dies and comes back on the same port while a PATCH lands before the page can reconnect: the
  // page resumes with Last-Event-ID and catches up from the store's outbox.
  const streamUrl = '**/api/now/openframe/events**';
  await page.route(streamUrl, (route) => route.abort());
  const listen = server.listen;
  serverDown = true;
  await server.stop('SIGKILL');
  await page.locator('#stream-status[data-status="reconnecting"]').waitFor();
  server = await Server.start(listen);
  await api('PATCH', `/api/now/openframe/voice-interaction/${created.sysId}`,
    JSON.stringify({ interaction: { additionalParams: { state: 'on_hold' } } }));
  const resumedFrom = page.waitForRequest((request) => request.url().includes('/api/now/openframe/events'));
  await page.unroute(streamUrl);
  const lastEventId = (await resumedFrom).headers()['last-event-id'];
  assert.match(lastEventId ?? '', /^\d+$/, 'the page resumes with Last-Event-ID');
  await page.locator('#detail-state[data-state="on_hold"]').waitFor();
  await page.locator('#stream-status[data-status="live"]').waitFor();
  serverDown = false;
  console.log(`workspace: after a server restart the page resumed after event ${lastEventId} and caught up`);

  await mkdir(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  console.log(`workspace: screenshot saved to ${SCREENSHOT}`);

  // "My interactions": the reference call is assigned to someone else; one assigned to me arrives live.
  const me = (await api('GET', `/api/now/openframe/voice-interaction/${created.sysId}`)).interaction.opened_by;
  await page.check('input[name="scope"][value="mine"]');
  await page.locator('#stream-status[data-status="live"]').waitFor();
  await page.locator('#list-empty').waitFor();
  const someoneElses = JSON.stringify({ interaction: { userPhoneNumber: '+14085550100', additionalParams: { assigned_to: '0123456789abcdef0123456789abcdef' } } });
  const mine = JSON.stringify({ interaction: { userPhoneNumber: '+14085550101', additionalParams: { assigned_to: me, short_description: 'Mine' } } });
  const other = await api('POST', '/api/now/openframe/voice-interaction', someoneElses);
  const own = await timeToShow('a call assigned to me',
    () => api('POST', '/api/now/openframe/voice-interaction', mine),
    () => page.locator('#interaction-list button', { hasText: 'Mine' }).waitFor());
  await page.waitForTimeout(300);
  const listed = await page.locator('#interaction-list button').evaluateAll((rows) => rows.map((r) => r.dataset.sysId));
  assert.deepEqual(listed, [own.sysId], `only my call is listed (not ${other.sysId} nor ${created.sysId})`);

  // A Table API delete of the selected call: it leaves the list and the detail pane.
  await page.locator('#interaction-list button', { hasText: 'Mine' }).click();
  await page.locator(`#detail .detail[data-sys-id="${own.sysId}"]`).waitFor();
  await timeToShow('a deleted call leaving the list',
    () => remove(`/api/now/table/interaction/${own.sysId}`),
    () => page.locator('#list-empty').waitFor());
  assert.match(await page.locator('#detail').innerText(), /deleted/);

  // Signing out drops the session; nothing was kept in storage.
  await page.click('#sign-out');
  await page.locator('#sign-in-view').waitFor();
  const stored = await page.evaluate(() => localStorage.length + sessionStorage.length);
  assert.equal(stored, 0);
  assert.deepEqual(problems, [], 'the page ran without errors');
  await browser.close();
  assert.equal(await server.stop('SIGTERM'), 0, 'the server stops cleanly');
});
