/**
 * Request and response schemas of the routes (TypeBox: JSON Schema for
 * validation, serialisation and the OpenAPI document, and static types).
 */
import Type, { type Static } from 'typebox';
import { ID_PATTERN } from '@hatake/protocol';
import { JOB_ID_PATTERN, JOB_STATUSES } from './jobs.ts';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'HATAKE_ERR_PRESCRIPTION_*' }),
      message: Type.String(),
      details: Type.Optional(Type.Array(Type.String())),
    }),
  },
  { $id: 'ErrorBody', description: 'every error' },
);

/** The error answers of a route, by status. */
export const errors = (...codes: number[]): Record<number, typeof ErrorBody> => Object.fromEntries(codes.map((c) => [c, ErrorBody]));

export const JobParams = Type.Object({ id: Type.String({ pattern: JOB_ID_PATTERN, description: 'job id (a UUID)' }) });
export type JobParams = Static<typeof JobParams>;

export const FileParams = Type.Object({ id: Type.String({ pattern: JOB_ID_PATTERN }), '*': Type.String({ description: 'a name from the job\'s `files`' }) });
export type FileParams = Static<typeof FileParams>;

export const JobsQuery = Type.Object(
  {
    farm: Type.Optional(Type.String({ pattern: ID_PATTERN })),
    status: Type.Optional(Type.Enum(JOB_STATUSES)),
  },
  { additionalProperties: false },
);
export type JobsQuery = Static<typeof JobsQuery>;

const Progress = Type.Object({
  stage: Type.String({ description: 'read, align, zones, rates or write' }),
  fraction: Type.Number({ minimum: 0, maximum: 1, description: 'of the whole run' }),
  message: Type.String(),
});

const FileView = Type.Object({
  name: Type.String({ description: 'relative to the job' }),
  bytes: Type.Integer(),
  sha256: Type.String(),
  contentType: Type.String(),
  url: Type.String({ description: 'where to download it (relative to this service)' }),
});

export const JobView = Type.Object({
  id: Type.String(),
  farm: Type.String(),
  owner: Type.String({ description: 'who created it' }),
  title: Type.Optional(Type.String()),
  status: Type.Enum(JOB_STATUSES),
  createdAt: Type.Integer({ description: 'ms since 1970-01-01 UTC' }),
  startedAt: Type.Optional(Type.Integer()),
  finishedAt: Type.Optional(Type.Integer()),
  expiresAt: Type.Optional(Type.Integer({ description: 'when a finished job is removed (prescription.jobTtlHours after it finished)' })),
  queuePosition: Type.Optional(Type.Integer({ description: '1: next to run' })),
  progress: Progress,
  error: Type.Optional(Type.Object({ code: Type.String({ description: 'HATAKE_ERR_VRT_* (the engine refused an input) or HATAKE_ERR_PRESCRIPTION_*' }), message: Type.String() })),
  fieldId: Type.Optional(Type.String({ description: 'the configured field used as boundary' })),
  inputs: Type.Optional(Type.Array(Type.Object({ layer: Type.String(), filename: Type.String(), bytes: Type.Integer() }))),
  params: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'parameters as given (the engine fills in the rest from its defaults)' })),
  profiles: Type.Optional(Type.Array(Type.String())),
  summary: Type.Optional(Type.Unknown({ description: "the engine's summary (also the file summary.json)" })),
  files: Type.Array(FileView),
  links: Type.Object({ self: Type.String(), events: Type.String() }),
});
export type JobView = Static<typeof JobView>;

export const JobList = Type.Object({ jobs: Type.Array(JobView) });
