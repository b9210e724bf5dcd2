/**
 * One prescription run over the benchmark stack in argv[2], output in
 * argv[3]; prints wall time and peak RSS as JSON. Its own process, so the
 * peak RSS is the run's alone.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runPrescription } from '@hatake/vrt';

const [dir, out] = [process.argv[2]!, process.argv[3]!];
const start = performance.now();
const field = JSON.parse(await readFile(join(dir, 'fields.geojson'), 'utf8')) as unknown;
const { summary, files } = await runPrescription(
  { yield: join(dir, 'yield.tif'), moisture: join(dir, 'moisture.tif'), ndvi: join(dir, 'ndvi.tif'), organic: join(dir, 'organic.tif'), field },
  { workingWidth: 24 },
  { outDir: out, profiles: ['isobus', 'generic-shapefile'] },
);
const seconds = (performance.now() - start) / 1000;
process.stdout.write(`${JSON.stringify({ seconds, peakRssMb: process.resourceUsage().maxRSS / 1024, areaHa: summary.areaHa, cells: summary.cells, zones: summary.zones.length, savingsPercent: summary.savings.percent, files: files.length })}\n`);
