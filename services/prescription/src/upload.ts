/**
 * Receiving an upload: the multipart parts are read in the order they come,
 * each layer streamed to `<job>/in/<layer>.tif` through a meter that counts
 * it against the per-file and per-upload limits (never held whole in
 * memory), the boundary (small) gathered to be parsed, text fields kept.
 * Limits and refusals that cannot wait (an unknown file, a farm outside the
 * user's scope) throw at once; everything else is listed in `problems`.
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Multipart } from '@fastify/multipart';
import { PrescriptionError } from './errors.ts';
import { CONTROL_FIELDS, LAYERS, isParamName, isTiffHeader, paramValue, type Layer } from './form.ts';

export interface UploadLimits {
  readonly maxFileBytes: number;
  readonly maxUploadBytes: number;
  readonly maxBoundaryBytes: number;
}

export interface ReceivedFile {
  readonly filename: string;
  readonly bytes: number;
}

export interface ReceivedUpload {
  farm?: string;
  fieldId?: string;
  title?: string;
  profiles?: string[];
  /** Engine parameters, numbers parsed from their text. */
  readonly params: Record<string, unknown>;
  readonly files: Map<Layer | 'field', ReceivedFile>;
  /** The uploaded boundary's text, when one came. */
  boundaryText?: string;
  /** Every problem found, for one 400 answer. */
  readonly problems: string[];
  /** Bytes received (files and fields). */
  bytes: number;
}

/** Bytes in binary units, for messages. */
export function formatBytes(n: number): string {
  if (n >= 1024 ** 3 && n % 1024 ** 3 === 0) return `${n / 1024 ** 3} GiB`;
  if (n >= 1024 ** 2) return `${+(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** A client's file name, for display only: no control characters, at most 255 characters. */
function displayName(name: string | undefined): string {
  return (name ?? '').replace(/[\p{Cc}]/gu, '').slice(0, 255);
}

const LAYER_SET: ReadonlySet<string> = new Set(LAYERS);
const CONTROL_SET: ReadonlySet<string> = new Set(CONTROL_FIELDS);

/**
 * Reads every part of an upload. `inputs` is the job's input directory;
 * `onFarm` is called as soon as the `farm` field arrives and throws to refuse
 * the upload before more of it is read.
 */
export async function receiveUpload(parts: AsyncIterable<Multipart>, inputs: string, limits: UploadLimits, onFarm: (farm: string) => void): Promise<ReceivedUpload> {
  const up: ReceivedUpload = { params: {}, files: new Map(), problems: [], bytes: 0 };
  const tooLarge = (what: string, limit: number, setting: string): PrescriptionError =>
    new PrescriptionError('HATAKE_ERR_PRESCRIPTION_TOO_LARGE', `${what} is larger than ${formatBytes(limit)} (${setting})`);
  const count = (n: number): void => {
    up.bytes += n;
    if (up.bytes > limits.maxUploadBytes) throw tooLarge('the upload', limits.maxUploadBytes, 'prescription.maxUploadBytes');
  };

  for await (const part of parts) {
    const name = part.fieldname;
    if (part.type === 'field') {
      const text = typeof part.value === 'string' ? part.value : String(part.value);
      count(Buffer.byteLength(text) + Buffer.byteLength(name));
      if (LAYER_SET.has(name) || name === 'field') {
        up.problems.push(`${name} must be a file (a multipart part with a filename), not a text field`);
        continue;
      }
      if (part.valueTruncated) {
        up.problems.push(`${name} is too long`);
        continue;
      }
      if (name === 'profiles') {
        const list = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
        up.profiles = [...(up.profiles ?? []), ...list];
        continue;
      }
      const seen = CONTROL_SET.has(name) ? (up as unknown as Record<string, unknown>)[name] !== undefined : name in up.params;
      if (seen) {
        up.problems.push(`${name} is given twice`);
        continue;
      }
      if (name === 'farm') {
        up.farm = text.trim();
        onFarm(up.farm);
      } else if (name === 'fieldId') up.fieldId = text.trim();
      else if (name === 'title') up.title = text;
      else if (isParamName(name)) up.params[name] = paramValue(name, text);
      else up.problems.push(`unknown field "${name.slice(0, 64)}" (parameters are named as the engine's: see the README)`);
      continue;
    }

    // a file
    if (!LAYER_SET.has(name) && name !== 'field') {
      part.file.destroy();
      throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_BAD_REQUEST', `unexpected file "${name.slice(0, 64)}": the files are yield, moisture, ndvi, organic (GeoTIFF) and field (GeoJSON)`);
    }
    if (up.files.has(name as Layer | 'field')) {
      part.file.destroy();
      throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_BAD_REQUEST', `${name} is given twice`);
    }
    const isField = name === 'field';
    const fileLimit = isField ? Math.min(limits.maxBoundaryBytes, limits.maxFileBytes) : limits.maxFileBytes;
    const fileSetting = isField && limits.maxBoundaryBytes < limits.maxFileBytes ? 'prescription.maxBoundaryBytes' : 'prescription.maxFileBytes';
    let bytes = 0;
    const head: Buffer[] = [];
    let headBytes = 0;
    const chunks: Buffer[] = [];
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        try {
          bytes += chunk.length;
          if (bytes > fileLimit) throw tooLarge(name, fileLimit, fileSetting);
          count(chunk.length);
        } catch (err) {
          done(err as Error);
          return;
        }
        if (headBytes < 8) {
          head.push(chunk);
          headBytes += chunk.length;
        }
        if (isField) {
          chunks.push(chunk);
          done();
        } else done(null, chunk);
      },
    });
    if (isField) await pipeline(part.file, meter);
    else await pipeline(part.file, meter, createWriteStream(join(inputs, `${name}.tif`)));
    const filename = displayName(part.filename);
    up.files.set(name as Layer | 'field', { filename, bytes });
    if (isField) up.boundaryText = Buffer.concat(chunks).toString('utf8');
    else if (!isTiffHeader(Buffer.concat(head))) {
      up.problems.push(`${name}${filename ? ` (${filename})` : ''} is not a GeoTIFF: ${bytes === 0 ? 'the file is empty' : 'it does not start with a TIFF header'}`);
    }
  }
  return up;
}
