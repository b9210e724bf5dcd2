/**
 * The prescriptions page of the dashboard in a real browser (Debian's Chromium
 * through playwright-core) against the demo stack: an agronomist opens
 * Prescriptions, uses the Iwamizawa sample (served by the gateway), sets a
 * working width of 12 m and submits; the progress shows, and when the job is
 * done the zones are drawn on the map with a legend row per zone, the savings
 * are shown, and TASKDATA.zip downloads as a blob (the token never in a URL).
 * A viewer gets no Prescriptions view. The page calls the prescription service
 * on its own port: CORS allows the gateway's origin, and no other. The form
 * fits its panel on a laptop (1280 px) and on tablets, landscape and portrait.
 * A failing step leaves a screenshot in test-results/dashboard-prescriptions/.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { controlsOutside, dashboardStack } from './browser.ts';

const stack = dashboardStack('dashboard-prescriptions', { tokensFor: ['agronomist'] });
const { newPage, step, signIn } = stack;

describe('the prescriptions page', () => {
  it('is not offered to viewers', async () => {
    const viewer = await newPage({ width: 1280, height: 900 });
    await step(viewer, 'viewer-no-view', async () => {
      await signIn(viewer, 'viewer');
      expect(await viewer.getByTestId('view-prescriptions').count()).toBe(0);
    });
  });

  it('fits the form in its panel on a laptop and on tablets', async () => {
    const page = await newPage({ width: 1280, height: 800 });
    await step(page, 'form-fits', async () => {
      await signIn(page, 'agronomist');
      await page.getByTestId('view-prescriptions').click();
      await page.getByTestId('pr-form').waitFor();
      for (const viewport of [{ width: 1280, height: 800 }, { width: 1024, height: 768 }, { width: 800, height: 1280 }]) {
        await page.setViewportSize(viewport);
        // every input, select and button of the form (the parameter grid's right column too) within its panel
        expect(await controlsOutside(page, '.pr-side'), `${viewport.width}×${viewport.height}`).toEqual([]);
        const grid = await page.locator('.pr-params').boundingBox();
        const width = await page.getByTestId('pr-workingWidth').boundingBox();
        expect(width!.x + width!.width).toBeLessThanOrEqual(grid!.x + grid!.width);
      }
    });
  });

  it('lets the prescription service be called from the gateway origin only', async () => {
    const gateway = new URL(stack.demo.addresses.gateway.url).origin;
    const url = `${stack.demo.addresses.prescription.url}/api/v1/prescriptions`;
    const preflight = (origin: string): Promise<Response> =>
      fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
    const ok = await preflight(gateway);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(gateway);
    expect(ok.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    const other = await preflight('http://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // an error answer carries the header too, so the page can read it
    const unauthorized = await fetch(url, { headers: { origin: gateway } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('access-control-allow-origin')).toBe(gateway);
    // the samples: signed in, a fixed list
    const sample = `${stack.demo.addresses.gateway.url}/api/v1/samples/prescription`;
    expect((await fetch(`${sample}/yield.tif`)).status).toBe(401);
    const auth = { authorization: `Bearer ${stack.demo.tokens['agronomist']!}` };
    const tif = await fetch(`${sample}/yield.tif`, { headers: auth });
    expect(tif.status).toBe(200);
    expect(Buffer.from(await tif.arrayBuffer()).subarray(0, 2).toString('latin1')).toMatch(/^(II|MM)$/);
    expect((await fetch(`${sample}/functions.ts`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${sample}/..%2Fyield.tif`, { headers: auth })).status).toBe(404);
  });

  it('makes a prescription from the sample: progress, zones on the map, legend, savings, downloads', async () => {
    const page = await newPage({ width: 1280, height: 900 });
    const startedAt = Date.now();
    await step(page, 'open', async () => {
      await signIn(page, 'agronomist');
      await page.getByTestId('view-prescriptions').click();
      await page.getByTestId('prescriptions').waitFor();
      expect(await page.getByTestId('live-view').isHidden()).toBe(true);
      expect(await page.getByTestId('pr-farm').locator('option').allTextContents()).toEqual(['kitamura', 'kurisawa']);
    });
    await step(page, 'refused', async () => {
      // nothing chosen: the form says what is missing, nothing is sent
      await page.getByTestId('pr-submit').click();
      await page.locator('[data-testid="pr-status"][data-state="error"]').waitFor();
      expect(await page.getByTestId('pr-reasons').locator('li').count()).toBeGreaterThanOrEqual(3);
    });
    await step(page, 'bad-params', async () => {
      // the service's 400 lists its reasons
      await page.getByTestId('pr-use-sample').click();
      await page.locator('[data-testid="pr-sample-state"][data-state="ready"]').waitFor();
      await page.getByTestId('pr-minRate').fill('300');
      await page.getByTestId('pr-maxRate').fill('100');
      await page.getByTestId('pr-submit').click();
      await page.locator('[data-testid="pr-error"][data-code="HATAKE_ERR_PRESCRIPTION_BAD_REQUEST"]').waitFor();
      expect(await page.getByTestId('pr-reasons').textContent()).toContain('minRate');
      await page.getByTestId('pr-minRate').fill('0');
      await page.getByTestId('pr-maxRate').fill('400');
    });
    await step(page, 'run', async () => {
      await page.getByTestId('pr-workingWidth').fill('12');
      await page.getByTestId('pr-submit').click();
      await page.locator('[data-testid="pr-progress"]:not([hidden])').waitFor();
      await page.locator('[data-testid="pr-status"][data-state="done"], [data-testid="pr-status"][data-state="error"]').waitFor({ timeout: 90_000 });
      expect(await page.getByTestId('pr-status').getAttribute('data-state')).toBe('done');
      expect(await page.getByTestId('pr-progress').getAttribute('data-fraction')).toBe('1');
    });
    await step(page, 'result', async () => {
      const zones = Number(await page.getByTestId('pr-legend').getAttribute('data-zones'));
      expect(zones).toBeGreaterThanOrEqual(2);
      expect(await page.getByTestId('pr-legend-row').count()).toBe(zones);
      // one SVG path per zone on the map
      expect(await page.locator('[data-testid="prescriptions-map"] .leaflet-overlay-pane path.pr-zone').count()).toBe(Number(await page.getByTestId('pr-legend').getAttribute('data-features')));
      expect(await page.locator('[data-testid="prescriptions-map"] .leaflet-overlay-pane path.pr-zone').count()).toBeGreaterThanOrEqual(zones);
      expect(await page.getByTestId('pr-savings').textContent()).toMatch(/Savings.*kg.*%/);
      expect(await page.getByTestId('pr-sum-uniform').textContent()).toMatch(/kg\/ha/);
      // the preview, fetched with the token (a blob)
      const img = page.getByTestId('pr-preview-img');
      expect(await img.getAttribute('src')).toMatch(/^blob:/);
      await expect.poll(() => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    });
    await step(page, 'download', async () => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="pr-download"][data-name="TASKDATA.zip"]').click()]);
      expect(download.url()).toMatch(/^blob:/);
      expect(download.suggestedFilename()).toBe('TASKDATA.zip');
      const bytes = await readFile((await download.path())!);
      expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK');
      expect(await page.locator('[data-testid="pr-download"]').count()).toBeGreaterThanOrEqual(5);
    });
    console.log(`prescription from the sample in the browser: ${Date.now() - startedAt} ms`);
  }, 150_000);
});
