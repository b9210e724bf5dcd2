/**
 * The dashboard's files at `/` (no sign-in; hashed assets cached for good; the
 * page for any other page request; JSON 404s kept for the API) and the base
 * map route (`GET /api/v1/map`, fields by farm scope, every road, tiles only
 * when configured). Through `app.inject()`: no broker needed.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, dashboardCsp, tileSource, type Gateway } from '@hatake/gateway';
import { silentLogger } from '@hatake/runtime';
import { EmbeddedStore, type TelemetryStore } from '@hatake/store';
import { testDeployment, type TestDeployment } from '@hatake/testkit';

let dep: TestDeployment;
let store: TelemetryStore;
let dist: string;
const gateways: Gateway[] = [];

async function gatewayWith(dashboardDir: string, env: Record<string, string> = {}): Promise<Gateway> {
  const d = Object.keys(env).length > 0 ? await testDeployment({ env }) : dep;
  const g = buildGateway(d.config, { logger: silentLogger(), store, password: 'unused', dashboardDir });
  gateways.push(g);
  await g.app.ready();
  return g;
}

beforeAll(async () => {
  dep = await testDeployment();
  store = new EmbeddedStore(':memory:', { logger: silentLogger() });
  await store.start();
  dist = await mkdtemp(join(tmpdir(), 'hatake-dashboard-'));
  await mkdir(join(dist, 'assets'));
  await writeFile(join(dist, 'index.html'), '<!doctype html><title>hatake</title><div id="app"></div>');
  await writeFile(join(dist, 'assets', 'index-abc123.js'), 'console.log("hatake")');
});

afterAll(async () => {
  for (const g of gateways) await g.app.close();
  await store.stop();
  await rm(dist, { recursive: true, force: true });
});

describe('the dashboard files', () => {
  it('serves the page and its assets without sign-in, the page uncached and the hashed assets for good', async () => {
    const g = await gatewayWith(dist);
    const page = await g.app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.body).toContain('<div id="app">');
    const asset = await g.app.inject({ url: '/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect(asset.headers['cache-control']).toContain('immutable');
  });

  it('answers a page request anywhere with the app, and keeps JSON 404s for the API and missing files', async () => {
    const g = await gatewayWith(dist);
    const deep = await g.app.inject({ url: '/fleet/t1', headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(deep.statusCode).toBe(200);
    expect(deep.body).toContain('<div id="app">');
    for (const url of ['/api/v1/nothing', '/assets/missing.js', '/assets/..%2F..%2Fetc%2Fpasswd', '/favicon.ico']) {
      const r = await g.app.inject({ url, headers: { accept: 'text/html' } });
      expect(r.statusCode, url).toBe(404);
      expect(r.json().error.code, url).toBe('HATAKE_ERR_GATEWAY_NOT_FOUND');
    }
  });

  it('serves the page and its assets with a strict Content-Security-Policy, nosniff and no referrer', async () => {
    const g = await gatewayWith(dist);
    for (const url of ['/', '/assets/index-abc123.js', '/fleet/t1']) {
      const r = await g.app.inject({ url, headers: { accept: 'text/html', host: '127.0.0.1:8080' } });
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-security-policy'], url).toBe(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws://127.0.0.1:8080; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
      );
      expect(r.headers['x-content-type-options'], url).toBe('nosniff');
      expect(r.headers['referrer-policy'], url).toBe('no-referrer');
    }
    // a Host header that is not a plain host[:port] is never echoed into the policy; 'self' stays
    const odd = await g.app.inject({ url: '/', headers: { host: 'evil.example; script-src *' } });
    expect(odd.headers['content-security-policy']).toContain("connect-src 'self'; ");
    expect(odd.headers['content-security-policy']).not.toContain('evil');
  });

  it('allows the configured tile server for images and the prescription service for connections, nothing else', async () => {
    const g = await gatewayWith(dist, { HATAKE_GATEWAY__DASHBOARD__TILE_URL: 'https://{s}.tiles.example/{z}/{x}/{y}.png', HATAKE_GATEWAY__DASHBOARD__PRESCRIPTION_URL: 'https://rx.example:8443/base/' });
    const csp = (await g.app.inject({ url: '/', headers: { host: 'farm.example' } })).headers['content-security-policy'];
    expect(csp).toContain("img-src 'self' data: blob: https://*.tiles.example;");
    expect(csp).toContain("connect-src 'self' ws://farm.example https://rx.example:8443;");
    expect(csp).toContain("script-src 'self';");
    expect(tileSource('https://tiles.example/{z}/{x}/{y}.png')).toBe('https://tiles.example');
    expect(tileSource('//tiles.example:8080/{z}/{x}/{y}.png')).toBe('tiles.example:8080');
    expect(tileSource('/tiles/{z}/{x}/{y}.png')).toBeUndefined();
    expect(tileSource('https://tiles.{s}.example/{z}/{x}/{y}.png')).toBe('https:');
    expect(dashboardCsp({ prescriptionUrl: 'not a url' })).toContain("connect-src 'self';");
  });

  it('says how to build the dashboard when it is not built', async () => {
    const g = await gatewayWith(join(dist, 'not-there'));
    const r = await g.app.inject({ url: '/' });
    expect(r.statusCode).toBe(503);
    expect(r.body).toContain('pnpm --filter @hatake/dashboard build');
    expect(r.headers['content-security-policy']).toContain("style-src 'self';");
    // the API is unaffected
    expect((await g.app.inject({ url: '/api/v1/me' })).statusCode).toBe(401);
  });
});

describe('GET /api/v1/map', () => {
  const fieldsOf = (body: { fields: { features: { properties: { farm: string; id: string } }[] } }): string[] => body.fields.features.map((f) => `${f.properties.farm}/${f.properties.id}`).sort();

  it('gives each user the fields of their farms and every road; no tiles unless configured', async () => {
    const g = await gatewayWith(dist);
    expect((await g.app.inject({ url: '/api/v1/map' })).statusCode).toBe(401);
    const as = async (user: string) => {
      const { token } = await g.tokens.issue(user);
      const r = await g.app.inject({ url: '/api/v1/map', headers: { authorization: `Bearer ${token}` } });
      expect(r.statusCode).toBe(200);
      return r.json();
    };
    const admin = await as('admin');
    expect(fieldsOf(admin)).toEqual(['north/n1', 'south/s1']);
    expect(admin.fields.features[0].geometry.type).toBe('Polygon');
    expect(admin.fields.features[0].properties.areaHa).toBeGreaterThan(1);
    expect(admin.roads.features.length).toBe(dep.config.roads.length);
    expect(admin.roads.features[0].geometry.type).toBe('LineString');
    expect(admin.tiles).toBeNull();
    expect(fieldsOf(await as('view-north'))).toEqual(['north/n1']);
    const crew = await as('crew');
    expect(fieldsOf(crew)).toEqual([]);
    expect(crew.roads.features.length).toBe(dep.config.roads.length);
  });

  it('passes a configured tile layer on', async () => {
    const g = await gatewayWith(dist, { HATAKE_GATEWAY__DASHBOARD__TILE_URL: 'https://tiles.example/{z}/{x}/{y}.png', HATAKE_GATEWAY__DASHBOARD__TILE_ATTRIBUTION: '© example' });
    const { token } = await g.tokens.issue('admin');
    const r = await g.app.inject({ url: '/api/v1/map', headers: { authorization: `Bearer ${token}` } });
    expect(r.json().tiles).toEqual({ url: 'https://tiles.example/{z}/{x}/{y}.png', attribution: '© example', maxZoom: 19 });
  });
});
