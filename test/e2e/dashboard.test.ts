/**
 * The web dashboard in a real browser (Debian's Chromium through
 * playwright-core) against the demo stack — broker, ingest, gateway and the
 * simulated fleet, in this process on loopback ports picked by the system:
 * the Content-Security-Policy it is served with, sign-in, the live map,
 * two-step resume, a working speed the tractor slows to, a two-step mission
 * start, a control lease taken over by a second operator (the first is told,
 * the machine's events record it), labels that never cover each other where
 * machines crowd, the live stream dropped by the gateway and reopened by the
 * page, STOP ALL acknowledged by every machine, alarms acknowledged, and a
 * viewer who gets no command controls at all. The dashboard is built once
 * here if it is missing or stale. A failing step leaves a screenshot in
 * test-results/dashboard/; a CSP violation in any page fails the test.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { WebSocketServer } from 'ws';
import { controlsOutside, dashboardStack } from './browser.ts';

const TRACTORS = ['t-kita-1', 't-kita-2', 't-kuri-1', 't-kuri-2'];
const stack = dashboardStack('dashboard', { tokensFor: ['admin'] });
const { newPage, step, signIn } = stack;

/** A machine's panel in `page`. */
const panelOf = (page: Page, id: string) => page.locator(`[data-testid="machine-panel"][data-device="${id}"]`);

describe('the dashboard', () => {
  let admin: Page;

  it('is served under a strict Content-Security-Policy, with nosniff and no referrer', async () => {
    const page = await fetch(stack.base);
    const csp = page.headers.get('content-security-policy') ?? '';
    const directives = Object.fromEntries(csp.split(/;\s*/).map((d) => { const [name, ...sources] = d.split(' '); return [name, sources]; }));
    const gateway = new URL(stack.base);
    expect(directives).toEqual({
      'default-src': ["'self'"],
      'script-src': ["'self'"],
      // no 'unsafe-inline': Leaflet and the dashboard style elements through the CSSOM, which CSP leaves alone
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:', 'blob:'],
      // the live stream, and the prescription service on its own port
      'connect-src': ["'self'", `ws://${gateway.host}`, new URL(stack.demo.addresses.prescription.url).origin],
      'object-src': ["'none'"],
      'frame-ancestors': ["'none'"],
      'base-uri': ["'self'"],
      'form-action': ["'self'"],
    });
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    // the script the page loads goes out the same way
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(new URL(script!, stack.base));
    expect(asset.status).toBe(200);
    // read to the end: an unread body keeps its connection busy, and the gateway's stop waits for it
    expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    expect(asset.headers.get('content-security-policy')).toBe(csp);
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
  });

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

  it('keeps the header on one line on a 1024 px tablet, STOP ALL and Sign out side by side', async () => {
    await step(admin, 'header-1024', async () => {
      await admin.setViewportSize({ width: 1024, height: 768 });
      const stopAll = (await admin.getByTestId('estop-all').boundingBox())!;
      const signOut = (await admin.getByTestId('sign-out').boundingBox())!;
      const centre = (b: { y: number; height: number }): number => b.y + b.height / 2;
      expect(Math.abs(centre(signOut) - centre(stopAll))).toBeLessThan(stopAll.height / 2);
      expect(signOut.x + signOut.width).toBeLessThanOrEqual(1024);
      await admin.setViewportSize({ width: 1280, height: 800 });
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

  it('sets a working speed: completed, and the tractor slows to it', async () => {
    await step(admin, 'set-speed', async () => {
      const panel = panelOf(admin, 't-kita-1');
      const kmh = async (): Promise<number> => Number.parseFloat((await panel.getByTestId('stat-speed').textContent()) ?? '');
      // working at its own speed first (2.4 m/s, 8.6 km/h on a swath; 6.9 on the headland)
      await expect.poll(kmh, { timeout: 20_000 }).toBeGreaterThan(5);
      // the gateway's bounds, in km/h: past them nothing is sent
      await panel.getByTestId('speed-input').fill('60');
      await panel.getByTestId('cmd-set_speed').click();
      await expect.poll(() => panel.getByTestId('panel-message').textContent()).toBe('Enter a working speed from 0 to 54 km/h.');
      expect(await panel.locator('[data-testid="command-row"][data-type="set_speed"]').count()).toBe(0);

      await panel.getByTestId('speed-input').fill('3.6');
      await panel.getByTestId('cmd-set_speed').click();
      const row = panel.locator('[data-testid="command-row"][data-type="set_speed"]').first();
      await panel.locator('[data-testid="command-row"][data-type="set_speed"][data-status="completed"]').waitFor();
      expect(await row.locator('strong').textContent()).toBe('Set speed 3.6 km/h');
      expect(await row.getByTestId('command-status').textContent()).toMatch(/^completed · \d+ ms$/);
      // 1 m/s from now on: it slows down to it, and stays there (a headland turn may be slower, nothing faster)
      await expect.poll(async () => Math.abs((await kmh()) - 3.6), { timeout: 20_000 }).toBeLessThanOrEqual(0.4);
      const readings: number[] = [];
      await expect.poll(async () => readings.push(await kmh()), { interval: 200, timeout: 10_000 }).toBeGreaterThanOrEqual(10);
      expect(Math.max(...readings), readings.join(', ')).toBeLessThanOrEqual(4);
      // the new controls fit the panel
      expect(await controlsOutside(admin, '.side')).toEqual([]);
    });
  });

  it('starts a mission only after arming and confirming', async () => {
    await step(admin, 'start-mission', async () => {
      await admin.getByTestId('fleet-row-t-kita-2').getByRole('button').click();
      const panel = panelOf(admin, 't-kita-2');
      await panel.getByTestId('cmd-stop').click();
      await panel.locator('[data-testid="command-row"][data-type="stop"][data-status="completed"]').waitFor();
      await panel.locator('[data-testid="panel-mode"][data-mode="stopped"]').waitFor();
      // an id the gateway would refuse: said here, nothing armed
      await panel.getByTestId('mission-input').fill('north field!');
      await panel.getByTestId('cmd-start_mission').click();
      await expect.poll(() => panel.getByTestId('panel-message').textContent()).toMatch(/^Enter a mission id/);
      expect(await panel.getByTestId('arm').isHidden()).toBe(true);

      // first click: armed, nothing sent
      await panel.getByTestId('mission-input').fill('spring-1');
      await panel.getByTestId('cmd-start_mission').click();
      const confirm = panel.getByTestId('arm-confirm');
      await confirm.waitFor();
      expect(await confirm.textContent()).toMatch(/^Confirm start mission spring-1 \([1-5] s\)$/);
      expect(await confirm.getAttribute('data-type')).toBe('start_mission');
      expect(await panel.locator('[data-testid="command-row"][data-type="start_mission"]').count()).toBe(0);
      expect(await panel.getByTestId('panel-mode').getAttribute('data-mode')).toBe('stopped');

      // second click: issued with the armed mission, accepted, the machine sets off
      await confirm.click();
      const row = panel.locator('[data-testid="command-row"][data-type="start_mission"][data-status="accepted"], [data-testid="command-row"][data-type="start_mission"][data-status="completed"]').first();
      await row.waitFor();
      expect(await row.locator('strong').textContent()).toBe('Start mission spring-1');
      await panel.locator('[data-testid="panel-mode"][data-mode="auto"]').waitFor();
      await panel.getByTestId('arm').waitFor({ state: 'hidden' });
    });
  });

  it('lets a second operator take control over with a reason; the first is told, the machine\'s events record it', async () => {
    const reason = 'checking the harrow at the gate';
    const op = await newPage();
    await step(op, 'takeover', async () => {
      await signIn(op, 'op-kitamura');
      await op.getByTestId('fleet-row-t-kita-2').getByRole('button').click();
      const panel = panelOf(op, 't-kita-2');
      // the admin holds it since the mission started
      await expect.poll(() => panel.getByTestId('lease-holder').textContent()).toMatch(/^Control: admin since /);
      await panel.getByTestId('lease-takeover').click();
      await panel.getByTestId('lease-reason').fill(reason);
      await panel.getByTestId('lease-takeover-confirm').click();
      await expect.poll(() => panel.getByTestId('lease-holder').textContent()).toMatch(/^Control: you since /);
      expect(await panel.getByTestId('lease-lost').count()).toBe(0);
    });
    await step(admin, 'lost-control', async () => {
      const panel = panelOf(admin, 't-kita-2');
      await panel.locator('[data-testid="lease"][data-state="other"][data-holder="op-kitamura"]').waitFor();
      expect(await panel.getByTestId('lease-lost').textContent()).toBe(`You lost control of t-kita-2: taken over from admin by op-kitamura: ${reason}`);
      // its commands are the new holder's now (the e-stop stays everyone's)
      await panel.getByTestId('cmd-pause').click();
      await expect.poll(() => panel.getByTestId('panel-message').textContent()).toMatch(/^Pause refused: t-kita-2 is controlled by op-kitamura/);
      expect(await panel.getByTestId('panel-estop').isEnabled()).toBe(true);
    });
    // recorded as an event of the machine, read back through the API
    const events = async (): Promise<string[]> => {
      const r = await fetch(new URL('api/v1/events?device=t-kita-2', stack.base), { headers: { authorization: `Bearer ${stack.demo.tokens['admin']!}` } });
      return ((await r.json()) as { events: { message?: string }[] }).events.map((e) => e.message ?? '');
    };
    await expect.poll(events).toContain(`control: taken over from admin by op-kitamura: ${reason}`);
  });

  it('keeps machine labels readable where machines crowd together', async () => {
    await step(admin, 'labels', async () => {
      await admin.getByTestId('panel-close').click();
      // zoom out step by step until each farm's machines sit within a few pixels of each other
      const zoom = async (): Promise<number> => Number(await admin.getByTestId('map').getAttribute('data-zoom'));
      while ((await zoom()) > 10) {
        const before = await zoom();
        await admin.locator('.leaflet-control-zoom-out').click();
        await expect.poll(zoom).toBeLessThan(before);
      }
      const labels = async (): Promise<{ shown: string[]; hidden: string[]; overlaps: string[] }> => {
        const boxes: { id: string; box: { x: number; y: number; width: number; height: number } | null }[] = [];
        for (const marker of await admin.locator('.mk[data-device]').all()) {
          boxes.push({ id: (await marker.getAttribute('data-device'))!, box: await marker.getByTestId('marker-label').boundingBox() });
        }
        const shown = boxes.filter((b) => b.box !== null);
        const overlaps: string[] = [];
        for (const [i, a] of shown.entries()) {
          for (const b of shown.slice(i + 1)) {
            const p = a.box!;
            const q = b.box!;
            if (p.x < q.x + q.width - 0.5 && q.x < p.x + p.width - 0.5 && p.y < q.y + q.height - 0.5 && q.y < p.y + p.height - 0.5) overlaps.push(`${a.id}/${b.id}`);
          }
        }
        return { shown: shown.map((b) => b.id), hidden: boxes.filter((b) => b.box === null).map((b) => b.id), overlaps };
      };
      // no two labels cover each other (checked until the markers' last moves are placed: labels follow once a frame)
      await expect.poll(async () => (await labels()).overlaps).toEqual([]);
      const { shown, hidden } = await labels();
      expect(shown.length + hidden.length).toBe(13);
      expect(shown.length).toBeGreaterThanOrEqual(3);
      // where there was no room, a label waits for its marker to be pointed at or focused
      expect(hidden.length).toBeGreaterThan(0);
      const id = hidden[0]!;
      await admin.locator('.mk-host', { has: admin.getByTestId(`marker-${id}`) }).focus();
      expect(await admin.getByTestId(`marker-${id}`).getByTestId('marker-label').textContent()).toBe(id);
      expect(await admin.getByTestId(`marker-${id}`).getByTestId('marker-label').isVisible()).toBe(true);
      await admin.getByTestId('user').click();
    });
  });

  it('shows the live stream lost, reopens it by itself, and the markers move again', async () => {
    await step(admin, 'reconnect', async () => {
      // every state the connection badge goes through, recorded in the page
      await admin.evaluate(`(() => {
        const el = document.querySelector('[data-testid="connection"]');
        window.__connection = [];
        new MutationObserver(() => window.__connection.push(el.dataset.state + ': ' + el.textContent)).observe(el, { attributes: true, childList: true, characterData: true, subtree: true });
      })()`);
      // the gateway drops every live connection at once, as a network cut would (no close frame)
      const wss = (stack.demo.gateway.app as unknown as { websocketServer: WebSocketServer }).websocketServer;
      expect(wss.clients.size).toBeGreaterThanOrEqual(2);
      for (const socket of wss.clients) socket.terminate();
      const states = (): Promise<string[]> => admin.evaluate('window.__connection') as Promise<string[]>;
      await expect.poll(states).toContainEqual(expect.stringMatching(/^reconnecting: connection lost: retrying in 1 s$/));
      await expect.poll(async () => (await states()).at(-1)).toBe('live: Live');
      const seen = await states();
      expect(seen.findIndex((s) => s.startsWith('reconnecting'))).toBeLessThan(seen.lastIndexOf('live: Live'));
      // the new stream brings the machines back to life
      const marker = admin.getByTestId('marker-t-kita-1');
      const where = async (): Promise<string> => `${await marker.getAttribute('data-lat')},${await marker.getAttribute('data-lon')}`;
      const before = await where();
      await expect.poll(where, { timeout: 10_000 }).not.toBe(before);
      expect(await admin.getByTestId('connection').getAttribute('data-state')).toBe('live');
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
      for (const sel of ['estop-all', 'panel-estop', 'controls', 'speed-form', 'mission-form', 'speed-input', 'mission-input', 'lease', 'arm', 'alarm-ack']) expect(await viewer.locator(`[data-testid="${sel}"]`).count(), sel).toBe(0);
      expect(await viewer.locator('[data-testid^="cmd-"], [data-testid^="lease-"]').count()).toBe(0);
      // no other farm's machines
      expect(await viewer.locator('[data-testid="fleet-row-t-kuri-1"]').count()).toBe(0);
    });
  });
});
