/**
 * `pnpm hatake prescription …`: a thin CLI over @hatake/vrt's runPrescription,
 * with a progress bar on a terminal and a readable summary at the end.
 * Exit codes: 0 done, 2 bad input or usage, 3 a terminal profile refused the
 * prescription (everything else written), 4 an output failed its check, 1 a bug.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_PARAMS, DEFAULT_PROFILES, isVrtError, runPrescription, TERMINAL_PROFILES, type PrescriptionParams, type RunProgress, type Summary } from '@hatake/vrt';

/** The parameters that take a number, with their option names. */
const NUMERIC: (keyof PrescriptionParams)[] = ['nPerTonne', 'yieldGoalFactor', 'nTarget', 'moistureOptimum', 'moistureCoefficient', 'growthCoefficient', 'maxAdjustment', 'organicNContent', 'organicAvailability', 'productNPercent', 'minRate', 'maxRate', 'rateStep', 'workingWidth', 'minZoneCells', 'seed'];
const TEXT: (keyof PrescriptionParams)[] = ['nRule', 'growthStrategy', 'productName', 'rateBy', 'zones'];
const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Usage of the prescription command. */
export const PRESCRIPTION_USAGE = `hatake prescription --yield Y.tif --moisture M.tif [--ndvi N.tif] [--organic O.tif] --field F.geojson --out DIR [options]

Writes prescription.tif, zones.geojson, shapefile.zip, TASKDATA.zip (ISOXML), preview.png
and summary.json (plus one file per extra terminal profile) into DIR.

Inputs:
  --yield FILE             yield GeoTIFF, t/ha (required)
  --moisture FILE          soil-moisture GeoTIFF, % (or scaled integer with GDAL SCALE metadata) (required)
  --ndvi FILE              growth / NDVI GeoTIFF (optional)
  --organic FILE           organic-matter application GeoTIFF, t/ha (optional)
  --field FILE             field boundary, WGS84 GeoJSON Polygon or MultiPolygon (required)
  --out DIR                output directory (required)

Parameters (defaults in brackets):
${[...NUMERIC, ...TEXT].map((k) => `  --${kebab(k).padEnd(23)}[${String(DEFAULT_PARAMS[k])}]`).join('\n')}

Other:
  --profiles LIST          terminal profiles, comma-separated [${DEFAULT_PROFILES.join(',')}]; known: ${Object.keys(TERMINAL_PROFILES).join(', ')}
  --title TEXT             preview title and ISOXML task name
  --max-cells N            largest raster accepted, cells [400000000]
  --json                   print summary.json to stdout instead of the readable summary
  --help

Exit codes: 0 done; 2 bad input; 3 a terminal profile refused (the rest written); 4 an output failed its check; 1 unexpected error.`;

/** A one-line progress bar for a terminal, or stage lines when not a terminal. */
function progressWriter(stream: NodeJS.WriteStream): { update(p: RunProgress): void; end(): void } {
  let lastStage = '';
  let lastDraw = 0;
  return {
    update(p) {
      if (stream.isTTY) {
        const now = Date.now();
        if (now - lastDraw < 100 && p.fraction < 1) return;
        lastDraw = now;
        const width = 30;
        const full = Math.round(p.fraction * width);
        stream.write(`\r[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${(p.fraction * 100).toFixed(0).padStart(3)} % ${p.message.padEnd(30).slice(0, 30)}`);
      } else if (p.message !== lastStage) {
        lastStage = p.message;
        stream.write(`${(p.fraction * 100).toFixed(0).padStart(3)} % ${p.message}\n`);
      }
    },
    end() {
      if (stream.isTTY) stream.write('\n');
    },
  };
}

const fmt = (n: number, digits = 1): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The summary people read at the end of a run. */
export function readableSummary(s: Summary, outDir: string): string {
  const lines = [
    `${s.title}: ${s.product.name}, ${s.zones.length} zone(s) on ${fmt(s.areaHa, 2)} ha (${s.cells} cells of ${s.cellSizeM} m, EPSG:${s.grid.epsg})`,
    '',
    '  zone   rate kg/ha   N kg/ha   area ha   product kg',
    ...s.zones.map((z) => `  ${String(z.id).padStart(4)}   ${fmt(z.rate).padStart(10)}   ${fmt(z.nRate).padStart(7)}   ${fmt(z.areaHa, 2).padStart(7)}   ${fmt(z.productKg).padStart(10)}`),
    '',
    `  total product  ${fmt(s.totalProductKg)} kg, mean ${fmt(s.meanRateKgHa)} kg/ha`,
    `  uniform rate   ${fmt(s.uniform.rateKgHa)} kg/ha → ${fmt(s.uniform.totalProductKg)} kg`,
    `  savings        ${fmt(s.savings.productKg)} kg (${fmt(s.savings.percent)} %) against the uniform rate`,
    `  nitrogen       need ${fmt(s.nitrogen.needKg)} kg, organic credit ${fmt(s.nitrogen.organicCreditKg)} kg, applied ${fmt(s.nitrogen.appliedKg)} kg`,
    '',
    ...Object.entries(s.profiles).map(([id, p]) => (p.ok ? `  ${id.padEnd(18)} ok → ${p.file}` : `  ${id.padEnd(18)} REFUSED: ${p.refusals.join(' ')}`)),
    ...s.warnings.map((w) => `  warning: ${w}`),
    '',
    `  files in ${outDir}: ${s.outputs.map((f) => f.name).join(', ')}, summary.json`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Runs the command; returns the exit code. */
export async function prescriptionCommand(argv: string[], io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream } = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const paramOptions = Object.fromEntries([...NUMERIC, ...TEXT].map((k) => [kebab(k), { type: 'string' as const }]));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        yield: { type: 'string' },
        moisture: { type: 'string' },
        ndvi: { type: 'string' },
        organic: { type: 'string' },
        field: { type: 'string' },
        out: { type: 'string' },
        profiles: { type: 'string' },
        title: { type: 'string' },
        'max-cells': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
        ...paramOptions,
      },
    });
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n\n${PRESCRIPTION_USAGE}\n`);
    return 2;
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v['help']) {
    io.stdout.write(`${PRESCRIPTION_USAGE}\n`);
    return 0;
  }
  const missing = ['yield', 'moisture', 'field', 'out'].filter((k) => typeof v[k] !== 'string');
  if (missing.length) {
    io.stderr.write(`missing ${missing.map((k) => `--${k}`).join(', ')}\n\n${PRESCRIPTION_USAGE}\n`);
    return 2;
  }
  const params: Partial<Record<keyof PrescriptionParams, unknown>> = {};
  for (const k of NUMERIC) {
    const s = v[kebab(k)];
    if (typeof s === 'string') params[k] = s.trim() === '' ? NaN : Number(s);
  }
  for (const k of TEXT) {
    const s = v[kebab(k)];
    if (typeof s === 'string') params[k] = k === 'zones' && s !== 'auto' ? Number(s) : s;
  }
  let field: unknown;
  try {
    field = JSON.parse(await readFile(v['field'] as string, 'utf8'));
  } catch (err) {
    io.stderr.write(`HATAKE_ERR_VRT_BOUNDARY: field boundary ${v['field']}: ${(err as Error).message}\n`);
    return 2;
  }
  const maxCells = typeof v['max-cells'] === 'string' ? Number(v['max-cells']) : undefined;
  if (maxCells !== undefined && !(Number.isInteger(maxCells) && maxCells > 0)) {
    io.stderr.write('--max-cells must be a positive whole number\n');
    return 2;
  }
  const bar = progressWriter(io.stderr);
  const outDir = v['out'] as string;
  try {
    const { summary } = await runPrescription(
      { yield: v['yield'] as string, moisture: v['moisture'] as string, ndvi: v['ndvi'] as string | undefined, organic: v['organic'] as string | undefined, field },
      params,
      { outDir, profiles: typeof v['profiles'] === 'string' ? v['profiles'].split(',').map((s) => s.trim()).filter(Boolean) : undefined, onProgress: (p) => bar.update(p), maxCells, title: v['title'] as string | undefined },
    );
    bar.end();
    io.stdout.write(v['json'] ? `${JSON.stringify(summary, null, 2)}\n` : readableSummary(summary, outDir));
    return Object.values(summary.profiles).some((p) => !p.ok) ? 3 : 0;
  } catch (err) {
    bar.end();
    if (isVrtError(err)) {
      io.stderr.write(`${err.code}: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
