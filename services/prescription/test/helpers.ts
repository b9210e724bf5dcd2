/**
 * What the service tests share: the engine's sample rasters, multipart
 * bodies, tokens signed with the gateway's key, and requests by inject or
 * over a real socket.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { TokenIssuer } from '@hatake/auth';

/** The engine's sample stack (its own test inputs): yield, moisture, ndvi, organic and the field they cover. */
export const FIXTURES = fileURLToPath(new URL('../../../packages/vrt/test/fixtures/in/', import.meta.url));
export const fixture = (name: string): Buffer => readFileSync(`${FIXTURES}${name}`);

/** The session key of the test deployments (what the gateway signs with). */
export const SECRET = 'test-secret-of-the-gateway-0123456789abcdef';
export const issuer = new TokenIssuer({ secret: SECRET, ttlSeconds: 3600 });

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export interface Part {
  readonly name: string;
  readonly value: string | Uint8Array;
  /** A file part when set. */
  readonly filename?: string;
}

/** The parts of an upload of the sample stack: farm first, then text fields, then the files; `omit` drops parts by name. */
export function stack(farm: string, opts: { fields?: Record<string, string>; omit?: readonly string[]; files?: Record<string, Uint8Array> } = {}): Part[] {
  const files: Record<string, Uint8Array> = {
    yield: fixture('yield.tif'),
    moisture: fixture('moisture.tif'),
    ndvi: fixture('ndvi.tif'),
    organic: fixture('organic.tif'),
    field: fixture('field.geojson'),
    ...opts.files,
  };
  const parts: Part[] = [{ name: 'farm', value: farm }, ...Object.entries(opts.fields ?? {}).map(([name, value]) => ({ name, value }))];
  for (const [name, value] of Object.entries(files)) parts.push({ name, value, filename: name === 'field' ? 'field.geojson' : `${name}.tif` });
  return parts.filter((p) => !opts.omit?.includes(p.name));
}

/** A multipart/form-data body, as a browser or curl sends it. */
export async function multipart(parts: readonly Part[]): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  for (const p of parts) {
    if (p.filename !== undefined) form.append(p.name, new Blob([p.value]), p.filename);
    else form.append(p.name, typeof p.value === 'string' ? p.value : Buffer.from(p.value).toString());
  }
  const r = new Response(form);
  return { body: Buffer.from(await r.arrayBuffer()), contentType: r.headers.get('content-type')! };
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
  readonly body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

/** A request through `app.inject()` (no socket: the routes work before `start()`). */
export async function inject(app: FastifyInstance, method: 'GET' | 'POST' | 'DELETE', url: string, opts: { token?: string; parts?: readonly Part[] } = {}): Promise<Answer> {
  const body = opts.parts ? await multipart(opts.parts) : undefined;
  const res = await app.inject({
    method,
    url,
    headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(body ? { 'content-type': body.contentType } : {}) },
    ...(body ? { payload: body.body } : {}),
  });
  return { status: res.statusCode, headers: res.headers, body: res.rawPayload, json: <T>() => JSON.parse(res.body) as T };
}

/** A request over a real socket. */
export async function request(base: string, method: 'GET' | 'POST' | 'DELETE', url: string, opts: { token?: string; parts?: readonly Part[] } = {}): Promise<Answer> {
  const body = opts.parts ? await multipart(opts.parts) : undefined;
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(body ? { 'content-type': body.contentType } : {}) },
    ...(body ? { body: body.body } : {}),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: Object.fromEntries(res.headers), body: bytes, json: <T>() => JSON.parse(bytes.toString()) as T };
}

/** The error of an answer. */
export const errorOf = (a: Answer): { code: string; message: string; details?: string[] } => a.json<{ error: { code: string; message: string; details?: string[] } }>().error;

/** Server-Sent Events of a finished stream. */
export function parseEvents(text: string): { event: string; data: Record<string, unknown> }[] {
  return text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const lines = block.split('\n');
      return { event: lines.find((l) => l.startsWith('event: '))!.slice(7), data: JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) as Record<string, unknown> };
    });
}

/** Job directories in the jobs directory (what an upload leaves on disk). */
export async function jobDirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}

/** A file that starts like a TIFF but is nothing more. */
export function fakeTiff(bytes: number): Buffer {
  const b = Buffer.alloc(bytes, 0x5a);
  Buffer.from([0x49, 0x49, 0x2a, 0x00, 0xf0, 0xff, 0xff, 0x7f]).copy(b);
  return b;
}
