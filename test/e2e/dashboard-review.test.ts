/**
 * The plow review page of the dashboard in a real browser (Debian's Chromium
 * through playwright-core) against the demo stack: an admin opens Plow
 * review, picks the demo plow p-iwa-1, and sees its track (from the store),
 * the road segments coloured by the time since their last pass and the storm
 * compliance per class; exports a GPX, a GeoJSON and a CSV file (with the
 * gateway's documented columns); and replays the window at 60x with a marker
 * that moves, then stops when paused. A viewer gets no view switch; the road
 * crew gets the plows and the review, and no tractor controls or
 * prescriptions. The store gets ten minutes of an earlier run of
 * p-iwa-1 (half an hour ago) so that a 60x replay lasts long enough to watch.
 * A failing step leaves a screenshot in test-results/dashboard-review/.
 */
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { controlsOutside, dashboardStack } from './browser.ts';

const stack = dashboardStack('dashboard-review');
const { newPage, step, signIn } = stack;

/** The track CSV's columns, as services/gateway/README.md documents them. */
const CSV_COLUMNS = ['time', 'device', 'lat', 'lon', 'speed_kmh', 'heading_deg', 'blade', 'spread_g_m2', 'material', 'fix'];

/** Ten minutes of p-iwa-1 at 1 Hz up National Route 12, half an hour ago: blade down, then up for the last three minutes. */
async function seedEarlierRun(): Promise<{ from: number; to: number }> {
  const route: [number, number][] = [
    [141.769609, 43.1843583],
    [141.7712228, 43.1877601],
    [141.7729753, 43.191125],
    [141.7742839, 43.1936502],
    [141.7755, 43.1962],
    [141.7767046, 43.1987529],
    [141.7780247, 43.201275],
  ];
  const from = Math.floor((Date.now() - 30 * 60_000) / 1000) * 1000;
  const n = 600;
  const records = [];
  for (let i = 0; i < n; i++) {
    const x = (i / (n - 1)) * (route.length - 1);
    const k = Math.min(route.length - 2, Math.floor(x));
    const f = x - k;
    const [lon0, lat0] = route[k]!;
    const [lon1, lat1] = route[k + 1]!;
    const down = i < 420;
    records.push({
      kind: 'plow' as const,
      device: 'p-iwa-1',
      sample: { t: from + i * 1000, seq: 900_000 + i, fix: 'rtk_fixed' as const, lat: lat0 + (lat1 - lat0) * f, lon: lon0 + (lon1 - lon0) * f, alt: 18, hdop: 0.8, speed: 4, heading: 20, blade: down ? ('down' as const) : ('up' as const), spread: down ? 20 : 0, material: 'sand' as const, width: 3.7 },
    });
  }
  await stack.demo.store.writeSamples(records);
  return { from, to: from + (n - 1) * 1000 };
}

describe('the plow review page', () => {
  let page: Page;
  let seeded: { from: number; to: number };

  it('is offered to admins (and road crews), not to viewers', async () => {
    seeded = await seedEarlierRun();
    const viewer = await newPage();
    await step(viewer, 'viewer-no-switch', async () => {
      await signIn(viewer, 'viewer');
      expect(await viewer.getByTestId('view-review').count()).toBe(0);
      expect(await viewer.getByTestId('view-live').count()).toBe(0);
    });
    page = await newPage();
    await step(page, 'open-review', async () => {
      await signIn(page, 'admin');
      await page.getByTestId('view-review').click();
      await page.getByTestId('review').waitFor();
      expect(await page.getByTestId('live-view').isHidden()).toBe(true);
      await page.getByTestId('review-vehicle-p-iwa-1').waitFor();
      // the plows the user may see, nothing else
      expect(await page.getByTestId('review-vehicles').getAttribute('data-count')).toBe('3');
    });
  });

  it("draws the plow's track, the road coverage and the storm compliance", async () => {
    await step(page, 'track', async () => {
      await page.getByTestId('review-vehicle-p-iwa-1').check();
      // the earlier run is in the store already; the demo's own samples of the last seconds follow (ingest writes in batches)
      const startedAt = Date.now() - 120_000;
      await expect
        .poll(
          async () => {
            await page.getByTestId('review-load').click();
            await page.locator('[data-testid="review-status"][data-state="ready"], [data-testid="review-status"][data-state="error"]').waitFor();
            if ((await page.locator('.leaflet-overlay-pane path.rv-track-p-iwa-1').count()) === 0) return 0;
            return Number(await page.getByTestId('review-track-p-iwa-1').getAttribute('data-last'));
          },
          { timeout: 30_000, interval: 1000 },
        )
        .toBeGreaterThan(startedAt);
      expect(await page.getByTestId('review-status').getAttribute('data-state')).toBe('ready');
      // blade down solid and thick, blade up dashed and thin
      expect(await page.locator('path.rv-track-p-iwa-1.rv-blade-down').count()).toBeGreaterThan(0);
      expect(await page.locator('path.rv-track-p-iwa-1.rv-blade-up').first().getAttribute('stroke-dasharray')).toBe('6 6');
      expect(Number(await page.getByTestId('review-track-p-iwa-1').getAttribute('data-points'))).toBeGreaterThan(10);
      // every road segment, coloured by the time since its last pass: the seeded run served Route 12 within the hour
      const segments = Number(await page.getByTestId('review-coverage').getAttribute('data-segments'));
      expect(segments).toBeGreaterThan(10);
      expect(await page.locator('.leaflet-overlay-pane path.rv-seg').count()).toBe(segments);
      expect(await page.locator('.leaflet-overlay-pane path.rv-seg-lt1h').count()).toBeGreaterThan(0);
      expect(await page.getByTestId('review-legend').locator('li[data-bucket]').count()).toBe(4);
      // the storm summary: a row per priority class with its on-time share
      const classes = page.getByTestId('storm-class');
      expect(await classes.count()).toBeGreaterThan(0);
      expect(await classes.first().textContent()).toMatch(/%/);
      expect(Number(await page.locator('[data-testid="storm-class"][data-class="1"]').getAttribute('data-share'))).toBeGreaterThan(0);
    });
  });

  it('exports the track as GPX, GeoJSON and CSV files', async () => {
    await step(page, 'export', async () => {
      for (const format of ['gpx', 'geojson', 'csv'] as const) {
        const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`[data-testid="review-export-${format}"][data-device="p-iwa-1"]`).click()]);
        expect(download.url()).toMatch(/^blob:/);
        expect(download.suggestedFilename()).toMatch(new RegExp(`^p-iwa-1-.*\\.${format}$`));
        const text = await readFile((await download.path())!, 'utf8');
        if (format === 'csv') {
          const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).filter((l) => l !== '');
          // the columns services/gateway/README.md documents for the track route's CSV
          expect(lines[0]).toBe(CSV_COLUMNS.join(','));
          expect(lines.length).toBeGreaterThan(100);
          const row = lines.find((l) => l.includes(',down,'))!.split(',');
          expect(row).toHaveLength(CSV_COLUMNS.length);
          expect(row[CSV_COLUMNS.indexOf('device')]).toBe('p-iwa-1');
          expect(Number.isNaN(Date.parse(row[0]!))).toBe(false);
        } else if (format === 'gpx') {
          expect(text).toMatch(/^<\?xml/);
          expect(text).toContain('<gpx');
          expect((text.match(/<trkpt /g) ?? []).length).toBeGreaterThan(100);
        } else {
          const fc = JSON.parse(text) as { type: string; features: { properties: { blade: string; device: string } }[] };
          expect(fc.type).toBe('FeatureCollection');
          expect(fc.features.some((f) => f.properties.blade === 'down' && f.properties.device === 'p-iwa-1')).toBe(true);
        }
      }
    });
  });

  it('replays the window at 60x with a moving marker, and pause stops it', async () => {
    await step(page, 'replay', async () => {
      await page.getByTestId('review-speed').selectOption('60');
      // the slider starts where the data starts
      expect(Number(await page.getByTestId('review-slider').inputValue())).toBeLessThanOrEqual(seeded.from + 1000);
      await page.getByTestId('review-play').click();
      const marker = page.getByTestId('replay-marker-p-iwa-1');
      await marker.waitFor();
      const where = async (): Promise<string> => `${await marker.getAttribute('data-lat')},${await marker.getAttribute('data-lon')}`;
      const first = await where();
      await expect.poll(where, { timeout: 10_000 }).not.toBe(first);
      const t0 = Number(await page.getByTestId('review-replay-time').getAttribute('data-t'));
      await expect.poll(async () => Number(await page.getByTestId('review-replay-time').getAttribute('data-t'))).toBeGreaterThan(t0);

      await page.getByTestId('review-play').click();
      await page.locator('[data-testid="review-replay-time"][data-state="paused"]').waitFor();
      await page.waitForTimeout(300);
      const paused = await where();
      await page.waitForTimeout(1500);
      expect(await where()).toBe(paused);
      expect(await page.getByTestId('review-play').textContent()).toBe('Resume');

      // resume plays on from the same position
      await page.getByTestId('review-play').click();
      await expect.poll(where, { timeout: 10_000 }).not.toBe(paused);
    });
  });

  it('gives the road crew the plows and plow review, and no tractor controls or prescriptions', async () => {
    const crew = await newPage({ width: 1024, height: 768 }); // a tablet in the truck, landscape
    await step(crew, 'road-crew', async () => {
      await signIn(crew, 'roadcrew');
      expect(await crew.getByTestId('user').getAttribute('data-roles')).toBe('road_crew');
      // the plows, nothing else
      await crew.getByTestId('fleet-row-p-iwa-1').waitFor();
      expect(await crew.locator('[data-testid^="fleet-row-"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-kind')))).toEqual(['plow', 'plow', 'plow']);
      for (const id of ['p-iwa-1', 'p-iwa-2', 'p-iwa-3']) await crew.getByTestId(`marker-${id}`).waitFor();
      // a plow's figures; no command controls anywhere, no Prescriptions view
      await crew.getByTestId('fleet-row-p-iwa-1').getByRole('button').click();
      await crew.locator('[data-testid="machine-panel"][data-device="p-iwa-1"]').getByTestId('stat-blade').waitFor();
      for (const sel of ['estop-all', 'panel-estop', 'controls', 'speed-form', 'mission-form', 'lease', 'arm', 'alarm-ack', 'view-prescriptions', 'prescriptions']) {
        expect(await crew.locator(`[data-testid="${sel}"]`).count(), sel).toBe(0);
      }
      expect(await crew.locator('[data-testid^="cmd-"], [data-testid^="lease-"]').count()).toBe(0);
      // plow review: their plows, a window shown
      await crew.getByTestId('view-review').click();
      await crew.getByTestId('review-vehicle-p-iwa-1').check();
      expect(await crew.getByTestId('review-vehicles').getAttribute('data-count')).toBe('3');
      await crew.getByTestId('review-load').click();
      await crew.locator('[data-testid="review-status"][data-state="ready"]').waitFor();
      expect(Number(await crew.getByTestId('review-coverage').getAttribute('data-segments'))).toBeGreaterThan(10);
      await crew.locator('[data-testid="review-export-csv"][data-device="p-iwa-1"]').waitFor();
      expect(await controlsOutside(crew, '.review-side')).toEqual([]);
    });
  });
});
