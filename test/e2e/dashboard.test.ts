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
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { dashboardStack } from './browser.ts';

const TRACTORS = ['t-kita-1', 't-kita-2', 't-kuri-1', 't-kuri-2'];
const stack = dashboardStack('dashboard');
const { newPage, step, signIn } = stack;

describe('the dashboard', () => {
  let admin: Page;

  it('signs in with the gateway users and shows every machine live on the map', async () => {
    admin = await newPage();
    await step(admin, 'sign-in', async () => {
      await admin.goto(stack.base);
      await admin.getByTestId('signin-username').fill('admin');
      await admin.getByTestId('signin-password').fill('not the password');
      await admin.getByTestId('signin-submit').click();
      await expect.poll(() => admin.getByTestId('signin-error').textContent()).toMatch(/wrong username or password/);
      await signIn(admin, 'admin');
      expect(await admin.getByTestId('user').textContent()).toContain('System administrator');
      // every named machine of the sample deployment is listed; tractors and plows are on the map
      await expect.poll(() => admin.locator('[data-testid^="fleet-row-"]').count()).toBe(13);
      for (const id of [...TRACTORS, 'p-iwa-1', 'p-iwa-2', 'p-iwa-3']) await admin.getByTestId(`marker-${id}`).waitFor();
      // the stack.base map from the gateway: four field boundaries and the roads, drawn as SVG paths (no tiles, no WebGL)
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
