/**
 * The prescription service over real HTTP (and `inject()` before it
 * listens), with the real engine on its real sample rasters: uploads,
 * sign-in and scopes, the queue, progress, downloads, refusals, expiry and
 * restarts.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway } from '@hatake/gateway';
import { buildPrescriptionService, type JobView, type PrescriptionService } from '@hatake/prescription';
import { silentLogger } from '@hatake/runtime';
import { EmbeddedStore } from '@hatake/store';
import { TEST_FIELDS, testDeployment, waitFor, type TestDeployment } from '@hatake/testkit';
import { SECRET, errorOf, fakeTiff, fixture, inject, issuer, jobDirs, parseEvents, request, sha256, stack } from './helpers.ts';

const API = '/api/v1/prescriptions';
const STAGES = ['read', 'align', 'zones', 'rates', 'write'];

/** The geometry of the sample field, whatever GeoJSON shape the fixture has. */
function fixtureGeometry(): unknown {
  const g = JSON.parse(fixture('field.geojson').toString()) as { type: string; features?: { geometry: unknown }[]; geometry?: unknown };
  return g.type === 'FeatureCollection' ? g.features![0]!.geometry : g.type === 'Feature' ? g.geometry : g;
}

/**
 * The test deployment with the sample field as field `n1` of farm north, the
 * gateway's key set, the service on port 0, and `agro` an agronomist of north only.
 */
async function deployment(env: Record<string, string> = {}): Promise<TestDeployment> {
  const fields = (id: string, name: string, geometry: unknown) => ({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { id, name }, geometry }] });
  return testDeployment({
    overrides: {
      farms: [
        { id: 'north', name: 'North farm', fields: fields('n1', 'N1', fixtureGeometry()) },
        { id: 'south', name: 'South farm', fields: fields('s1', 'S1', TEST_FIELDS.south.polygon) },
      ],
    },
    env: { HATAKE_GATEWAY__AUTH__TOKEN_SECRET: SECRET, HATAKE_PRESCRIPTION__PORT: '0', HATAKE_USERS__3__FARMS: '["north"]', ...env },
  });
}

const tokens: Record<string, string> = {};
async function tokenOf(user: string): Promise<string> {
  return (tokens[user] ??= (await issuer.issue(user)).token);
}

describe('a prescription from the sample stack', () => {
  let dep: TestDeployment;
  let svc: PrescriptionService;
  let base: string;
  let dir: string;
  let done: JobView;
  let clock = Date.now();

  beforeAll(async () => {
    dep = await deployment();
    dir = resolve(dep.config.deployment.dataDir, dep.config.prescription.dataDir);
    svc = buildPrescriptionService(dep.config, { logger: silentLogger(), now: () => clock });
  });
  afterAll(async () => {
    await svc.stop();
  });

  it('runs an agronomist\'s upload: queued, progress heard, done, every file downloadable with its sha256', async () => {
    const token = await tokenOf('agro');
    // accepted before start(): it waits, so its whole life can be heard
    const created = await inject(svc.app, 'POST', API, { token, parts: stack('north', { fields: { maxRate: '250', workingWidth: '12', title: 'North N1 top dressing' } }) });
    expect(created.status).toBe(202);
    const job = created.json<JobView>();
    expect(job).toMatchObject({ status: 'queued', farm: 'north', owner: 'agro', queuePosition: 1, links: { self: `${API}/${job.id}`, events: `${API}/${job.id}/events` } });
    expect(job.inputs!.map((i) => i.layer).sort()).toEqual(['field', 'moisture', 'ndvi', 'organic', 'yield']);
    expect(job.params).toEqual({ maxRate: 250, workingWidth: 12 });

    const events = inject(svc.app, 'GET', `${API}/${job.id}/events`, { token });
    base = (await svc.start()).url;
    const heard = parseEvents((await events).body.toString());
    expect(heard[0]).toMatchObject({ event: 'status', data: { status: 'queued' } });
    expect(heard.some((e) => e.event === 'status' && e.data['status'] === 'running')).toBe(true);
    const progress = heard.filter((e) => e.event === 'progress').map((e) => e.data as { stage: string; fraction: number });
    expect(progress.length).toBeGreaterThan(2);
    // stages in order, the fraction never going back
    for (let i = 1; i < progress.length; i++) {
      expect(STAGES.indexOf(progress[i]!.stage)).toBeGreaterThanOrEqual(STAGES.indexOf(progress[i - 1]!.stage));
      expect(progress[i]!.fraction).toBeGreaterThanOrEqual(progress[i - 1]!.fraction);
    }
    expect(new Set(progress.map((p) => p.stage))).toEqual(new Set(STAGES));
    expect(heard.at(-1)).toMatchObject({ event: 'status', data: { status: 'done' } });

    const got = await request(base, 'GET', `${API}/${job.id}`, { token });
    expect(got.status).toBe(200);
    done = got.json<JobView>();
    expect(done).toMatchObject({ status: 'done', progress: { fraction: 1 }, title: 'North N1 top dressing' });
    expect(done.error).toBeUndefined();
    expect(done.expiresAt).toBe(done.finishedAt! + 72 * 3_600_000);
    const summary = done.summary as { zones: { rate: number }[]; params: { maxRate: number; workingWidth: number }; inputs: Record<string, { source: string }> };
    expect(summary.params).toMatchObject({ maxRate: 250, workingWidth: 12 });
    // the summary names the uploaded file, never the server path it was stored under
    expect(summary.inputs['yield']!.source).toBe('yield.tif');
    expect(summary.zones.length).toBeGreaterThan(0);
    for (const z of summary.zones) expect(z.rate).toBeLessThanOrEqual(250);
    const names = done.files.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['prescription.tif', 'zones.geojson', 'preview.png', 'summary.json']));
    for (const f of done.files) {
      const file = await request(base, 'GET', f.url, { token });
      expect(file.status, f.name).toBe(200);
      expect(file.body.length).toBe(f.bytes);
      expect(sha256(file.body)).toBe(f.sha256);
      expect(file.headers['content-type']).toBe(f.contentType);
      expect(file.headers['content-disposition']).toContain(`filename="${f.name.split('/').at(-1)}"`);
    }
    expect(JSON.parse((await request(base, 'GET', done.files.find((f) => f.name === 'summary.json')!.url, { token })).body.toString())).toEqual(done.summary);
    // the uploads are gone once the run has ended; the outputs stay
    expect(await jobDirs(resolve(dir, job.id))).toEqual(['job.json', 'out']);
  });

  it('shows the job to the users of its farm only, and 404 to everyone else', async () => {
    expect((await request(base, 'GET', `${API}/${done.id}`, { token: await tokenOf('view-north') })).status).toBe(200);
    expect((await request(base, 'GET', `${API}/${done.id}`, { token: await tokenOf('op-north') })).status).toBe(200);
    for (const user of ['op-south', 'crew']) {
      const other = await request(base, 'GET', `${API}/${done.id}`, { token: await tokenOf(user) });
      expect(other.status, user).toBe(404);
      expect(errorOf(other)).toEqual({ code: 'HATAKE_ERR_PRESCRIPTION_NOT_FOUND', message: `no prescription job ${done.id}` });
      expect((await request(base, 'GET', done.files[0]!.url, { token: await tokenOf(user) })).status).toBe(404);
    }
    const listed = async (user: string) => (await request(base, 'GET', API, { token: await tokenOf(user) })).json<{ jobs: JobView[] }>().jobs.map((j) => j.id);
    expect(await listed('view-north')).toContain(done.id);
    expect(await listed('op-south')).not.toContain(done.id);
    expect(await listed('admin')).toContain(done.id);
  });

  it('serves only the files of the job: traversal, encoded or not, is 404', async () => {
    const token = await tokenOf('agro');
    for (const name of ['../job.json', '..%2Fjob.json', '%2e%2e/job.json', '..%2F..%2F..%2Fetc%2Fpasswd', 'out/../../job.json', '%2Fetc%2Fpasswd', 'prescription.tif%00', 'nope.tif', 'in/yield.tif']) {
      const res = await request(base, 'GET', `${API}/${done.id}/files/${name}`, { token });
      expect(res.status, name).toBe(404);
      expect(errorOf(res).code).toBe('HATAKE_ERR_PRESCRIPTION_NOT_FOUND');
    }
    // also without fetch normalising the path on the way
    for (const url of [`${API}/${done.id}/files/../job.json`, `${API}/${done.id}/files/../../../../etc/passwd`, `${API}/../${done.id}/job.json`]) {
      expect((await inject(svc.app, 'GET', url, { token })).status, url).toBe(404);
    }
  });

  it('takes the boundary from the configuration with fieldId', async () => {
    const token = await tokenOf('agro');
    const res = await request(base, 'POST', API, { token, parts: stack('north', { fields: { fieldId: 'n1', workingWidth: '12' }, omit: ['field', 'ndvi', 'organic'] }) });
    expect(res.status).toBe(202);
    expect(res.json<JobView>()).toMatchObject({ status: 'queued', queuePosition: 1 });
    const id = res.json<JobView>().id;
    const job = await waitFor('the fieldId job to end', async () => {
      const j = (await request(base, 'GET', `${API}/${id}`, { token })).json<JobView>();
      return j.status === 'done' || j.status === 'failed' ? j : undefined;
    }, { timeoutMs: 60_000 });
    expect(job).toMatchObject({ status: 'done', fieldId: 'n1' });
    const unknown = await request(base, 'POST', API, { token, parts: stack('north', { fields: { fieldId: 'n9' }, omit: ['field'] }) });
    expect(unknown.status).toBe(400);
    expect(errorOf(unknown).details).toContain('farm north has no field "n9"');
  });

  it('fails a job whose TIFF the engine cannot read, with the engine\'s code, and goes on', async () => {
    const token = await tokenOf('agro');
    const bad = await request(base, 'POST', API, { token, parts: stack('north', { files: { moisture: fixture('truncated.tif') } }) });
    expect(bad.status).toBe(202);
    const good = await request(base, 'POST', API, { token, parts: stack('north', { fields: { workingWidth: '12' } }) });
    expect(good.status).toBe(202);
    const end = async (id: string): Promise<JobView> =>
      waitFor(`job ${id} to end`, async () => {
        const j = (await request(base, 'GET', `${API}/${id}`, { token })).json<JobView>();
        return j.status === 'done' || j.status === 'failed' ? j : undefined;
      }, { timeoutMs: 60_000 });
    const failed = await end(bad.json<JobView>().id);
    expect(failed.status).toBe('failed');
    expect(failed.error!.code).toBe('HATAKE_ERR_VRT_RASTER');
    expect(failed.error!.message).toMatch(/moisture/);
    expect(failed.files).toEqual([]);
    expect((await end(good.json<JobView>().id)).status).toBe('done');
    const metrics = (await request(base, 'GET', '/metrics')).body.toString();
    expect(metrics).toMatch(/hatake_prescription_job_results_total\{status="failed",code="HATAKE_ERR_VRT_RASTER"\} 1/);
    expect(metrics).toMatch(/hatake_prescription_jobs\{status="done"\} [1-9]/);
    expect(metrics).toMatch(/hatake_prescription_upload_bytes_total\{layer="yield"\} [1-9]/);
    expect(metrics).toMatch(/hatake_prescription_run_seconds_count\{status="done"\} [1-9]/);
  });

  it('deletes a job for its agronomists only', async () => {
    const viewer = await request(base, 'DELETE', `${API}/${done.id}`, { token: await tokenOf('view-north') });
    expect(viewer.status).toBe(403);
    expect(errorOf(viewer).code).toBe('HATAKE_ERR_PRESCRIPTION_FORBIDDEN');
    expect((await request(base, 'DELETE', `${API}/${done.id}`, { token: await tokenOf('op-south') })).status).toBe(404);
    expect((await request(base, 'DELETE', `${API}/${done.id}`, { token: await tokenOf('agro') })).status).toBe(204);
    expect((await request(base, 'GET', `${API}/${done.id}`, { token: await tokenOf('agro') })).status).toBe(404);
    expect(await jobDirs(dir)).not.toContain(done.id);
  });

  it('removes finished jobs jobTtlHours after they finished', async () => {
    const before = svc.jobs.list().filter((j) => j.status === 'done' || j.status === 'failed');
    expect(before.length).toBeGreaterThan(0);
    clock += 71 * 3_600_000;
    expect(await svc.jobs.sweep()).toEqual([]);
    clock += 2 * 3_600_000;
    expect((await svc.jobs.sweep()).sort()).toEqual(before.map((j) => j.id).sort());
    expect(await jobDirs(dir)).toEqual([]);
    const token = (await issuer.issue('agro', clock)).token;
    expect((await inject(svc.app, 'GET', `${API}/${before[0]!.id}`, { token })).status).toBe(404);
  });

  it('keeps finished jobs across a restart, and one service per jobs directory', async () => {
    const token = (await issuer.issue('agro', clock)).token;
    const res = await request(base, 'POST', API, { token, parts: stack('north', { fields: { workingWidth: '12' }, omit: ['ndvi', 'organic'] }) });
    const id = res.json<JobView>().id;
    const job = await waitFor('the job to end', async () => {
      const j = (await request(base, 'GET', `${API}/${id}`, { token })).json<JobView>();
      return j.status === 'done' ? j : undefined;
    }, { timeoutMs: 60_000 });
    const second = buildPrescriptionService(dep.config, { logger: silentLogger() });
    await expect(second.start()).rejects.toMatchObject({ code: 'HATAKE_ERR_PRESCRIPTION_DATA_DIR_LOCKED' });
    await second.stop();

    await svc.stop();
    svc = buildPrescriptionService(dep.config, { logger: silentLogger(), now: () => clock });
    base = (await svc.start()).url;
    const again = await request(base, 'GET', `${API}/${id}`, { token });
    expect(again.json<JobView>()).toMatchObject({ status: 'done', files: job.files });
    const tif = job.files.find((f) => f.name === 'prescription.tif')!;
    expect(sha256((await request(base, 'GET', tif.url, { token })).body)).toBe(tif.sha256);
  });
});

describe('refusals', () => {
  let dep: TestDeployment;
  let svc: PrescriptionService;
  let base: string;
  let dir: string;

  beforeAll(async () => {
    dep = await deployment();
    dir = resolve(dep.config.deployment.dataDir, dep.config.prescription.dataDir);
    svc = buildPrescriptionService(dep.config, { logger: silentLogger() });
    base = (await svc.start()).url;
  });
  afterAll(async () => {
    await svc.stop();
  });

  it('answers 401 without a valid token', async () => {
    const none = await request(base, 'POST', API, { parts: stack('north') });
    expect(none.status).toBe(401);
    expect(errorOf(none).code).toBe('HATAKE_ERR_PRESCRIPTION_UNAUTHORIZED');
    expect((await request(base, 'GET', API)).status).toBe(401);
    const forged = await request(base, 'GET', API, { token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.x' });
    expect(forged.status).toBe(401);
    expect((await request(base, 'GET', API, { token: (await issuer.issue('nobody')).token })).status).toBe(401);
    expect(await jobDirs(dir)).toEqual([]);
  });

  it('takes the tokens the gateway issues', async () => {
    const gateway = buildGateway(dep.config, { logger: silentLogger(), store: new EmbeddedStore(':memory:', { logger: silentLogger() }), password: 'unused' });
    const { token } = await gateway.tokens.issue('agro');
    expect((await request(base, 'GET', API, { token })).status).toBe(200);
  });

  it('lets only agronomists and admins create jobs: viewers, operators and road crews get 403', async () => {
    for (const user of ['view-north', 'op-north', 'crew']) {
      const res = await request(base, 'POST', API, { token: await tokenOf(user), parts: stack('north') });
      expect(res.status, user).toBe(403);
      expect(errorOf(res)).toEqual({ code: 'HATAKE_ERR_PRESCRIPTION_FORBIDDEN', message: 'only agronomists and admins create prescriptions' });
    }
    expect(await jobDirs(dir)).toEqual([]);
  });

  it('refuses a farm outside the agronomist\'s scope, or one that does not exist', async () => {
    for (const farm of ['south', 'atlantis']) {
      const res = await request(base, 'POST', API, { token: await tokenOf('agro'), parts: stack(farm) });
      expect(res.status, farm).toBe(403);
      expect(errorOf(res).message).toBe(`farm "${farm}" is not one of your farms (or does not exist)`);
    }
    // the farm after the files: refused all the same, after the upload
    const late = await request(base, 'POST', API, { token: await tokenOf('agro'), parts: [...stack('south').slice(1), { name: 'farm', value: 'south' }] });
    expect(late.status).toBe(403);
    expect(await jobDirs(dir)).toEqual([]);
  });

  it('refuses an upload without yield, saying so', async () => {
    const res = await request(base, 'POST', API, { token: await tokenOf('agro'), parts: stack('north', { omit: ['yield'] }) });
    expect(res.status).toBe(400);
    expect(errorOf(res)).toMatchObject({ code: 'HATAKE_ERR_PRESCRIPTION_BAD_REQUEST' });
    expect(errorOf(res).details).toEqual(['yield is required: upload it as a GeoTIFF file named "yield"']);
    const neither = await request(base, 'POST', API, { token: await tokenOf('agro'), parts: stack('north', { omit: ['yield', 'moisture', 'field'] }) });
    expect(errorOf(neither).details).toEqual([
      'yield and moisture are required: upload them as a GeoTIFF file named "yield" and "moisture"',
      'a field boundary is required: upload field (a GeoJSON file) or give fieldId (a field of the farm)',
    ]);
    expect(await jobDirs(dir)).toEqual([]);
  });

  it('refuses bad parameters, listing every one', async () => {
    const res = await request(base, 'POST', API, { token: await tokenOf('agro'), parts: stack('north', { fields: { minRate: '300', maxRate: '100', zones: 'many', workingWidth: 'wide', speed: '3', profiles: 'isobus,nope' } }) });
    expect(res.status).toBe(400);
    const { code, details } = errorOf(res);
    expect(code).toBe('HATAKE_ERR_PRESCRIPTION_BAD_REQUEST');
    expect(details).toEqual(
      expect.arrayContaining([
        'minRate (300 kg/ha) is above maxRate (100 kg/ha)',
        expect.stringMatching(/^zones must be 'auto' or a whole number 1–8 \(got "many"\)/),
        expect.stringMatching(/^workingWidth must be 1–100 m \(got "wide"\)/),
        expect.stringMatching(/^unknown field "speed"/),
        expect.stringMatching(/^unknown terminal profile "nope"; known: isobus, /),
      ]),
    );
    expect(await jobDirs(dir)).toEqual([]);
  });

  it('refuses a boundary the engine would refuse, and a layer that is not a TIFF', async () => {
    const line = Buffer.from(JSON.stringify({ type: 'LineString', coordinates: [[141.7, 43.2], [141.71, 43.2]] }));
    const res = await request(base, 'POST', API, { token: await tokenOf('agro'), parts: stack('north', { files: { field: line, yield: fixture('not-a-tiff.tif') } }) });
    expect(res.status).toBe(400);
    expect(errorOf(res).details).toEqual([
      'yield (yield.tif) is not a GeoTIFF: it does not start with a TIFF header',
      expect.stringMatching(/^field boundary: a "LineString" is not a Polygon or MultiPolygon/),
    ]);
    const notJson = await request(base, 'POST', API, { token: await tokenOf('agro'), parts: stack('north', { files: { field: Buffer.from('{"type": "Polygon", ') } }) });
    expect(errorOf(notJson).details).toEqual([expect.stringMatching(/^field is not JSON: /)]);
    expect(await jobDirs(dir)).toEqual([]);
  });

  it('answers 413 for a file or an upload over the limits, keeping nothing', async () => {
    const small = await deployment({ HATAKE_PRESCRIPTION__MAX_FILE_BYTES: '8192', HATAKE_PRESCRIPTION__MAX_UPLOAD_BYTES: '12000' });
    const smallDir = resolve(small.config.deployment.dataDir, small.config.prescription.dataDir);
    const limited = buildPrescriptionService(small.config, { logger: silentLogger() });
    const url = (await limited.start()).url;
    try {
      const token = await tokenOf('agro');
      const file = await request(url, 'POST', API, { token, parts: [{ name: 'farm', value: 'north' }, { name: 'yield', value: fakeTiff(100_000), filename: 'big.tif' }] });
      expect(file.status).toBe(413);
      expect(errorOf(file)).toEqual({ code: 'HATAKE_ERR_PRESCRIPTION_TOO_LARGE', message: 'yield is larger than 8 KiB (prescription.maxFileBytes)' });
      const total = await request(url, 'POST', API, { token, parts: [{ name: 'farm', value: 'north' }, { name: 'yield', value: fakeTiff(7000), filename: 'y.tif' }, { name: 'moisture', value: fakeTiff(7000), filename: 'm.tif' }] });
      expect(total.status).toBe(413);
      expect(errorOf(total).message).toBe('the upload is larger than 11.7 KiB (prescription.maxUploadBytes)');
      const declared = await inject(limited.app, 'POST', API, { token, parts: [{ name: 'farm', value: 'north' }, { name: 'yield', value: fakeTiff(1_200_000), filename: 'y.tif' }] });
      expect(declared.status).toBe(413);
      expect(errorOf(declared).message).toMatch(/^the upload \(.+\) is larger than 11\.7 KiB \(prescription\.maxUploadBytes\)$/);
      expect(await jobDirs(smallDir)).toEqual([]);
      expect((await request(url, 'GET', '/metrics')).body.toString()).toMatch(/hatake_prescription_rejections_total\{reason="too_large"\} 3/);
    } finally {
      await limited.stop();
    }
  });

  it('answers 503 when the queue is full', async () => {
    const q = await deployment({ HATAKE_PRESCRIPTION__MAX_QUEUED_JOBS: '2' });
    const qDir = resolve(q.config.deployment.dataDir, q.config.prescription.dataDir);
    // not started: nothing runs, so the queue only fills
    const queued = buildPrescriptionService(q.config, { logger: silentLogger() });
    try {
      const token = await tokenOf('agro');
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await inject(queued.app, 'POST', API, { token, parts: stack('north') }));
      expect(answers.map((a) => a.status)).toEqual([202, 202, 503]);
      expect(answers.slice(0, 2).map((a) => a.json<JobView>().queuePosition)).toEqual([1, 2]);
      expect(errorOf(answers[2]!).code).toBe('HATAKE_ERR_PRESCRIPTION_QUEUE_FULL');
      expect((await jobDirs(qDir)).sort()).toEqual(answers.slice(0, 2).map((a) => a.json<JobView>().id).sort());
      // a waiting job can be withdrawn, which makes room
      expect((await inject(queued.app, 'DELETE', `${API}/${answers[0]!.json<JobView>().id}`, { token })).status).toBe(204);
      expect((await inject(queued.app, 'GET', `${API}/${answers[1]!.json<JobView>().id}`, { token })).json<JobView>().queuePosition).toBe(1);
      expect((await inject(queued.app, 'POST', API, { token, parts: stack('north') })).status).toBe(202);
    } finally {
      await queued.stop();
    }
  });

  it('is healthy once started, and documents its routes', async () => {
    expect((await request(base, 'GET', '/healthz')).json()).toEqual({ status: 'ok' });
    const doc = (await request(base, 'GET', '/api/v1/openapi.json')).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([API, `${API}/{id}`, `${API}/{id}/events`]));
  });
});

describe('restarts', () => {
  it('runs again a job whose run a dead process left, once; a second death fails it', async () => {
    const dep = await deployment();
    const dir = resolve(dep.config.deployment.dataDir, dep.config.prescription.dataDir);
    const token = await tokenOf('agro');
    // two jobs accepted by a service that never ran them
    const first = buildPrescriptionService(dep.config, { logger: silentLogger() });
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push((await inject(first.app, 'POST', API, { token, parts: stack('north', { fields: { workingWidth: '12' } }) })).json<JobView>().id);
    await first.stop();
    // what a process that died during their runs leaves: `running`, after one attempt and after two
    for (const [i, attempts] of [1, 2].entries()) {
      const path = resolve(dir, ids[i]!, 'job.json');
      const record = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
      await writeFile(path, JSON.stringify({ ...record, status: 'running', attempts, startedAt: Date.now() }));
    }
    // and an upload that was never accepted
    await mkdir(resolve(dir, '00000000-0000-4000-8000-000000000000', 'in'), { recursive: true });

    const second = buildPrescriptionService(dep.config, { logger: silentLogger() });
    const base = (await second.start()).url;
    try {
      const end = async (id: string): Promise<JobView> =>
        waitFor(`job ${id} to end`, async () => {
          const j = (await request(base, 'GET', `${API}/${id}`, { token })).json<JobView>();
          return j.status === 'done' || j.status === 'failed' ? j : undefined;
        }, { timeoutMs: 60_000 });
      expect(await end(ids[0]!)).toMatchObject({ status: 'done' });
      expect(await end(ids[1]!)).toMatchObject({ status: 'failed', error: { code: 'HATAKE_ERR_PRESCRIPTION_INTERRUPTED' } });
      expect((await jobDirs(dir)).sort()).toEqual([...ids].sort());
    } finally {
      await second.stop();
    }
  });
});
