/**
 * The web dashboard in a real browser (Debian's Chromium through
 * playwright-core) against the demo stack — broker, ingest, gateway and the
 * simulated fleet, in this process on loopback ports picked by the system:
 * sign-in, the live map, two-step resume, STOP ALL acknowledged by every
 * machine, alarms acknowledged, and a viewer who gets no command controls at
 * all. The dashboard
 * is built once here if it is missing or stale. A failing step leaves a
 * screenshot in test-results/dashboard/.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoTestEnv } from '@hatake/testkit';
import { startDemo, type Demo } from '@hatake/cli';
import { ensureDashboardBuilt } from '@hatake/dashboard';
import { silentLogger } from '@hatake/runtime';

const root = resolve(import.meta.dirname, '..', '..');
const artefacts = join(root, 'test-results', 'dashboard');
/** Debian's chromium (never `playwright install`), with the flags of shared/STACK.md. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TRACTORS = ['t-kita-1', 't-kita-2', 't-kuri-1', 't-kuri-2'];

let data: string;
let demo: Demo;
let browser: Browser;
let base: string;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  await ensureDashboardBuilt();
  data = await mkdtemp(join(tmpdir(), 'hatake-dashboard-e2e-'));
  demo = await startDemo({
    configFile: join(root, 'config', 'hatake.yaml'),
    env: demoTestEnv(data),
    logger: silentLogger(),
    cost: { ln: 10, r: 8, p: 1 },
  });
  base = `${demo.addresses.gateway.url}/`;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await demo?.stop();
  if (data) await rm(data, { recursive: true, force: true });
});

async function newPage(viewport = { width: 1280, height: 800 }): Promise<Page> {
  const context = await browser.newContext({ viewport, hasTouch: viewport.width < 1100 });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

/** Runs a step; on failure saves a screenshot of the page as an artefact, then fails. */
async function step(page: Page, name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    await mkdir(artefacts, { recursive: true });
    await page.screenshot({ path: join(artefacts, `${name}.png`), fullPage: true }).catch(() => undefined);
    throw err;
  }
}

async function signIn(page: Page, username: string): Promise<void> {
  await page.goto(base);
  await page.getByTestId('signin-username').fill(username);
  await page.getByTestId('signin-password').fill(demo.secrets.users[username]!);
  await page.getByTestId('signin-submit').click();
  await page.locator('[data-testid="connection"][data-state="live"]').waitFor();
}

describe('the dashboard', () => {
  let admin: Page;

  it('signs in with the gateway users and shows every machine live on the map', async () => {
    admin = await newPage();
    await step(admin, 'sign-in', async () => {
      await admin.goto(base);
      await admin.getByTestId('signin-username').fill('admin');
      await admin.getByTestId('signin-password').fill('not the password');
      await admin.getByTestId('signin-submit').click();
      await expect.poll(() => admin.getByTestId('signin-error').textContent()).toMatch(/wrong username or password/);
      await signIn(admin, 'admin');
      expect(await admin.getByTestId('user').textContent()).toContain('System administrator');
      // every named machine of the sample deployment is listed; tractors and plows are on the map
      await expect.poll(() => admin.locator('[data-testid^="fleet-row-"]').count()).toBe(13);
      for (const id of [...TRACTORS, 'p-iwa-1', 'p-iwa-2', 'p-iwa-3']) await admin.getByTestId(`marker-${id}`).waitFor();
      // the base map from the gateway: four field boundaries and the roads, drawn as SVG paths (no tiles, no WebGL)
      await expect.poll(() => admin.locator('.leaflet-overlay-pane path').count()).toBeGreaterThanOrEqual(4 + 10);
      await admin.getByTestId('estop-all').waitFor({ state: 'visible' });
    });
  });

  it('resumes a machine only after arming and confirming', async () => {
    await step(admin, 'resume', async () => {
      await admin.getByTestId('fleet-row-t-kita-1').getByRole('button').click();
      const panel = admin.locator('[data-testid="machine-panel"][data-device="t-kita-1"]');
      await panel.waitFor();
      // whatever it was doing (it may have stopped itself before anyone watched), stop it
      await panel.getByTestId('cmd-stop').click();
      await panel.locator('[data-testid="command-row"][data-type="stop"][data-status="completed"]').waitFor();
      await panel.locator('[data-testid="panel-mode"][data-mode="stopped"]').waitFor();
      // the stop took the control lease for this user
      expect(await panel.getByTestId('lease-holder').textContent()).toMatch(/Control: you/);

      // first click: armed, nothing sent
      await panel.getByTestId('cmd-resume').click();
      const confirm = panel.getByTestId('arm-confirm');
      await confirm.waitFor();
      expect(await confirm.textContent()).toMatch(/^Confirm resume \([1-5] s\)$/);
      expect(await panel.locator('[data-testid="command-row"][data-type="resume"]').count()).toBe(0);
      expect(await panel.getByTestId('panel-mode').getAttribute('data-mode')).toBe('stopped');

      // second click: issued, accepted, the machine works again
      await confirm.click();
      await panel.locator('[data-testid="command-row"][data-type="resume"][data-status="accepted"], [data-testid="command-row"][data-type="resume"][data-status="completed"]').first().waitFor();
      expect(await panel.locator('[data-testid="command-row"][data-type="resume"]').first().getByTestId('command-status').textContent()).toMatch(/\d+ ms/);
      await panel.locator('[data-testid="panel-mode"][data-mode="auto"]').waitFor();
      await panel.getByTestId('arm').waitFor({ state: 'hidden' });
    });
  });

  it("moves a working tractor's marker, rotated by its heading, with its latency shown", async () => {
    await step(admin, 'marker-moves', async () => {
      const marker = admin.getByTestId('marker-t-kita-1');
      const where = async (): Promise<string> => `${await marker.getAttribute('data-lat')},${await marker.getAttribute('data-lon')}`;
      const before = await where();
      await expect.poll(where, { timeout: 20_000 }).not.toBe(before);
      expect(await marker.getAttribute('data-mode'), await admin.getByTestId('commands').textContent() ?? '').toBe('auto');
      // the arrow points where the machine heads
      const [headingAttr, style] = await marker.evaluate((el) => [el.getAttribute('data-heading'), el.querySelector('.mk-rot')?.getAttribute('style') ?? '']);
      const heading = Number(headingAttr);
      const rotation = Number(/rotate\(([-\d.]+)deg\)/.exec(style)?.[1]);
      expect(Math.abs(rotation - heading)).toBeLessThanOrEqual(0.5);
      const panel = admin.locator('[data-testid="machine-panel"][data-device="t-kita-1"]');
      await expect.poll(() => panel.getByTestId('stat-latency').textContent()).toMatch(/^\d+ ms$/);
      expect(await panel.getByTestId('stat-fix').textContent()).toMatch(/RTK|GPS/);
      expect(await panel.getByTestId('stat-seen').textContent()).toMatch(/ago$/);
    });
  });

  it('STOP ALL stops every machine, each acknowledged', async () => {
    await step(admin, 'stop-all', async () => {
      await admin.getByTestId('estop-all').click();
      await admin.locator('[data-testid="estop-all-status"][data-state="acked"]').waitFor();
      expect(await admin.getByTestId('estop-all-status').getAttribute('data-acked')).toBe(String(TRACTORS.length));
      for (const id of TRACTORS) {
        const row = admin.locator(`[data-testid="fleet-row-${id}"][data-mode="estop"][data-command-type="estop"]`);
        await row.waitFor();
        expect(['accepted', 'completed']).toContain(await row.getAttribute('data-command-status'));
        await admin.locator(`[data-testid="marker-${id}"][data-mode="estop"]`).waitFor();
      }
    });
  });

  it('lists alarms live and lets an operator acknowledge one', async () => {
    await step(admin, 'alarm-ack', async () => {
      // the sample deployment's 500 load-test tractors (not running in the demo) got the fleet stop too: after
      // 2 s unanswered, each raises estop_unacked — real alarms, streamed to the dashboard as they are raised
      await admin.locator('[data-testid="alarm-row"][data-type="estop_unacked"]').first().waitFor();
      const row = admin.locator('[data-testid="alarm-row"][data-acked="false"]').first();
      const id = await row.getAttribute('data-alarm-id');
      await row.getByTestId('alarm-ack').click();
      const acked = admin.locator(`[data-testid="alarm-row"][data-alarm-id="${id}"]`);
      await admin.locator(`[data-testid="alarm-row"][data-alarm-id="${id}"][data-acked="true"]`).waitFor();
      expect(await acked.textContent()).toContain('acknowledged by admin');
      expect(await acked.getByTestId('alarm-ack').count()).toBe(0);
    });
  });

  it('gives a viewer the live fleet of their farm and no command controls at all', async () => {
    const viewer = await newPage({ width: 820, height: 1180 }); // a tablet, portrait
    await step(viewer, 'viewer', async () => {
      await signIn(viewer, 'viewer');
      await expect.poll(() => viewer.locator('[data-testid^="fleet-row-"]').count()).toBe(5);
      await viewer.getByTestId('fleet-row-t-kita-1').getByRole('button').click();
      const panel = viewer.locator('[data-testid="machine-panel"][data-device="t-kita-1"]');
      await panel.getByTestId('stat-speed').waitFor();
      await viewer.getByTestId('marker-t-kita-1').waitFor();
      // the alarms of their farm are listed (the e-stop alarms above), without a way to acknowledge them
      await viewer.getByTestId('alarm-row').first().waitFor();
      for (const sel of ['estop-all', 'panel-estop', 'controls', 'lease', 'arm', 'alarm-ack']) expect(await viewer.locator(`[data-testid="${sel}"]`).count(), sel).toBe(0);
      expect(await viewer.locator('[data-testid^="cmd-"], [data-testid^="lease-"]').count()).toBe(0);
      // no other farm's machines
      expect(await viewer.locator('[data-testid="fleet-row-t-kuri-1"]').count()).toBe(0);
    });
  });
});
