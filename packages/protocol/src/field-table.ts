/**
 * Renders the README's field table from the schemas, so documentation and
 * validation cannot drift apart (test/readme.test.ts compares them).
 */
import Type, { type TSchema } from 'typebox';
import { POSITION_FIELDS, sampleBase } from './schemas/common.ts';
import { Command, CommandAck } from './schemas/command.ts';
import { DeviceEvent } from './schemas/event.ts';
import { DeadLetter, Heartbeat } from './schemas/service.ts';
import { DeviceState } from './schemas/state.ts';
import { plowFields, sensorFields, tractorFields } from './schemas/telemetry.ts';

interface JsonSchemaLike {
  readonly type?: string;
  readonly description?: string;
  readonly unit?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly pattern?: string;
  readonly maxLength?: number;
  readonly maxItems?: number;
  readonly items?: JsonSchemaLike;
  readonly properties?: Record<string, JsonSchemaLike>;
  readonly required?: readonly string[];
  readonly anyOf?: readonly JsonSchemaLike[];
}

function formatNumber(n: number): string {
  if (n === Number.MAX_SAFE_INTEGER) return '2⁵³−1';
  if (Math.abs(n) >= 1e11) return new Date(n).toISOString().slice(0, 10);
  return String(n);
}

function typeOf(s: JsonSchemaLike): string {
  if (s.enum) return s.enum.map((e) => `\`${String(e)}\``).join(' \\| ');
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.type === 'array') return `${typeOf(s.items ?? {})}[]`;
  if (s.anyOf) return s.anyOf.map(typeOf).join(' \\| ');
  return s.type ?? 'object';
}

function rangeOf(s: JsonSchemaLike): string {
  if (s.minimum !== undefined && s.maximum !== undefined) return `${formatNumber(s.minimum)} … ${formatNumber(s.maximum)}`;
  if (s.maxItems !== undefined) return `≤ ${s.maxItems} items`;
  if (s.maxLength !== undefined) return `≤ ${s.maxLength} chars`;
  if (s.pattern !== undefined && s.pattern.startsWith('^[A-Za-z0-9]')) return 'id';
  return '';
}

function rows(fields: Record<string, TSchema>, required: (name: string) => boolean | string): string[] {
  return Object.entries(fields).map(([name, schema]) => {
    const s = schema as unknown as JsonSchemaLike;
    return `| \`${name}\` | ${typeOf(s)} | ${s.unit ?? ''} | ${rangeOf(s)} | ${requiredLabel(required(name))} | ${s.description ?? ''} |`;
  });
}

function objectRows(schema: TSchema): string[] {
  const s = schema as unknown as JsonSchemaLike;
  const req = new Set(s.required ?? []);
  return rows((s.properties ?? {}) as Record<string, TSchema>, (n) => req.has(n));
}

function requiredLabel(r: boolean | string): string {
  return typeof r === 'string' ? r : r ? 'yes' : '';
}

const HEADER = ['| field | type | unit | range | required | meaning |', '| --- | --- | --- | --- | --- | --- |'];

function isRequired(fields: Record<string, TSchema>): (name: string) => boolean {
  return (name) => fields[name] !== undefined && !Type.IsOptional(fields[name]);
}

/** The markdown table of every message field with unit and range. */
export function renderFieldTable(): string {
  const section = (title: string, body: string[]): string => [`#### ${title}`, '', ...HEADER, ...body, ''].join('\n');
  const base = sampleBase as unknown as Record<string, TSchema>;
  const tractor = tractorFields as unknown as Record<string, TSchema>;
  const plow = plowFields as unknown as Record<string, TSchema>;
  const sensor = sensorFields as unknown as Record<string, TSchema>;
  return [
    section('Every telemetry sample', [
      '| `v` | `1` |  |  | yes | schema version (on the message, not on samples inside a batch) |',
      ...rows(base, (n) => ((POSITION_FIELDS as readonly string[]).includes(n) ? 'with a fix' : isRequired(base)(n))),
    ]),
    section('Tractor sample (`hatake/v1/tractor/{id}/telemetry`)', rows(tractor, isRequired(tractor))),
    section('Plow sample (`hatake/v1/plow/{id}/telemetry`)', rows(plow, isRequired(plow))),
    section('Sensor sample (`hatake/v1/sensor/{id}/telemetry`, at least one measurement)', rows(sensor, isRequired(sensor))),
    section('State (`hatake/v1/{kind}/{id}/state`, retained, last will)', objectRows(DeviceState)),
    section('Event (`hatake/v1/{kind}/{id}/event`)', objectRows(DeviceEvent)),
    section('Command (`hatake/v1/{kind}/{id}/cmd`)', objectRows(Command)),
    section('Command acknowledgement (`hatake/v1/{kind}/{id}/cmd/ack`)', objectRows(CommandAck)),
    section('Supervisor heartbeat (`hatake/v1/supervisor/heartbeat`)', objectRows(Heartbeat)),
    section('Dead letter (`hatake/v1/deadletter/{source}`)', objectRows(DeadLetter)),
  ].join('\n');
}
