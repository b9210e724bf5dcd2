/**
 * The job table and its queue: jobs wait in order, at most
 * `maxConcurrentJobs` run at once, each in a directory of its own
 * (`<dataDir>/<id>/job.json`, `in/` while it waits and runs, `out/` after).
 * The table is also on disk, so a restart keeps finished jobs and runs the
 * waiting ones; a run the service was stopped in the middle of is run again.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@hatake/runtime';
import { VrtError, runPrescriptionIsolated, type OutputFile, type PrescriptionParams, type RunProgress } from '@hatake/vrt';
import { PrescriptionError, type PrescriptionErrorCode } from './errors.ts';
import type { Layer } from './form.ts';
import type { PrescriptionMetrics } from './metrics.ts';

export const JOB_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Ids are UUIDs: route parameters are checked against this before any lookup. */
export const JOB_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const JOB_ID = new RegExp(JOB_ID_PATTERN);

/** One uploaded file as the job keeps it (the client's name is only shown, never used as a path). */
export interface JobInput {
  readonly layer: Layer | 'field';
  readonly filename: string;
  readonly bytes: number;
}

/** A job as held in memory and in `job.json`. */
export interface JobRecord {
  readonly id: string;
  readonly farm: string;
  /** Username of who created it. */
  readonly owner: string;
  readonly createdAt: number;
  readonly title?: string;
  /** The boundary's origin: a field of the farm's configuration, or an uploaded file (`inputs`). */
  readonly fieldId?: string;
  readonly inputs: readonly JobInput[];
  /** The parameters as given (the engine fills in the rest). */
  readonly params: Partial<PrescriptionParams>;
  readonly profiles?: readonly string[];
  status: JobStatus;
  attempts: number;
  startedAt?: number;
  finishedAt?: number;
  progress: RunProgress;
  error?: { code: string; message: string };
  summary?: unknown;
  files?: readonly OutputFile[];
}

/** What listeners of a job hear. */
export type JobEvent = { readonly type: 'progress'; readonly progress: RunProgress } | { readonly type: 'status'; readonly job: JobRecord } | { readonly type: 'end' };

export interface JobSettings {
  readonly maxConcurrentJobs: number;
  readonly maxQueuedJobs: number;
  readonly jobTimeoutMinutes: number;
  readonly jobTtlHours: number;
  readonly maxCells?: number;
  /** Heap limit of a run's own thread, MB (default 2048). */
  readonly jobMemoryMb?: number;
}

export interface JobManagerOptions {
  /** The jobs directory (`deployment.dataDir`/`prescription.dataDir`). */
  readonly dir: string;
  readonly settings: JobSettings;
  readonly logger: Logger;
  readonly metrics: PrescriptionMetrics;
  readonly now: () => number;
}

/** Where a job's files are. */
export interface JobPaths {
  readonly root: string;
  readonly inputs: string;
  readonly outputs: string;
  readonly record: string;
}

interface Running {
  readonly controller: AbortController;
  readonly settled: Promise<void>;
}

const WAITING: RunProgress = { stage: 'read', fraction: 0, message: 'waiting for a turn' };
/** Why a run was aborted (the reason given to its AbortController). */
type AbortWhy = 'stopping' | 'timeout' | 'cancelled';
const LOCK_FILE = '.lock';
/** A run started this many times without finishing (the service stopped or died meanwhile) is failed instead of run again. */
const MAX_ATTEMPTS = 2;

/** True for a job id as this service makes them. */
export function isJobId(id: string): boolean {
  return JOB_ID.test(id);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The job table and queue; `open()` loads it, `start()` starts running jobs, `stop()` ends runs and releases the directory. */
export class JobManager {
  private readonly opts: JobManagerOptions;
  private readonly log: Logger;
  private readonly jobs = new Map<string, JobRecord>();
  private readonly queue: string[] = [];
  /** Ids handed to uploads not yet accepted or discarded (their directories have no record yet). */
  private readonly reserved = new Set<string>();
  private readonly running = new Map<string, Running>();
  private readonly listeners = new Map<string, Set<(e: JobEvent) => void>>();
  private readonly lastNotified = new Map<string, { stage: string; fraction: number; at: number }>();
  private started = false;
  private stopping = false;
  private locked = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(opts: JobManagerOptions) {
    this.opts = opts;
    this.log = opts.logger;
  }

  /** The directories of a job. */
  paths(id: string): JobPaths {
    const root = join(this.opts.dir, id);
    return { root, inputs: join(root, 'in'), outputs: join(root, 'out'), record: join(root, 'job.json') };
  }

  /** A fresh job id and its (created) input directory, for an upload to write into. */
  async reserve(): Promise<{ id: string; paths: JobPaths }> {
    const id = randomUUID();
    const paths = this.paths(id);
    this.reserved.add(id);
    await mkdir(paths.inputs, { recursive: true });
    return { id, paths };
  }

  /** Removes what an upload left, when it was refused. */
  async discard(id: string): Promise<void> {
    this.reserved.delete(id);
    if (!isJobId(id) || this.jobs.has(id)) return;
    await rm(this.paths(id).root, { recursive: true, force: true });
  }

  /** Takes the directory (one service per directory), removes unfinished uploads and loads the table. Jobs that were waiting or running wait again. */
  async open(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    await this.lock();
    const entries = await readdir(this.opts.dir, { withFileTypes: true });
    const loaded: JobRecord[] = [];
    for (const e of entries) {
      if (!e.isDirectory() || !isJobId(e.name) || this.reserved.has(e.name)) continue;
      const paths = this.paths(e.name);
      let job: JobRecord;
      try {
        job = JSON.parse(await readFile(paths.record, 'utf8')) as JobRecord;
      } catch (err) {
        // no record: an upload the service stopped in the middle of (it was never accepted)
        this.log.warn({ job: e.name, reason: (err as NodeJS.ErrnoException).code ?? 'unreadable' }, 'removing a job directory without a readable record');
        await rm(paths.root, { recursive: true, force: true });
        continue;
      }
      // skip what this process already holds (jobs accepted before start())
      if (job.id !== e.name || this.jobs.has(job.id)) continue;
      loaded.push(job);
    }
    loaded.sort((a, b) => a.createdAt - b.createdAt);
    for (const job of loaded) {
      this.jobs.set(job.id, job);
      if (job.status === 'running') {
        if (job.attempts >= MAX_ATTEMPTS) {
          await this.finish(job, { code: 'HATAKE_ERR_PRESCRIPTION_INTERRUPTED', message: `the service stopped during this job's run ${job.attempts} times; it is not run again` });
          continue;
        }
        job.status = 'queued';
        job.progress = WAITING;
        await this.save(job);
      }
      if (job.status === 'queued') this.queue.push(job.id);
    }
    if (loaded.length > 0) this.log.info({ jobs: loaded.length, queued: this.queue.length }, 'jobs loaded');
  }

  /** Starts running queued jobs, and removing expired ones. */
  start(): void {
    this.started = true;
    const everyMs = Math.min(3_600_000, Math.max(1000, (this.opts.settings.jobTtlHours * 3_600_000) / 10));
    this.sweeper = setInterval(() => void this.sweep().catch((err: unknown) => this.log.error({ err }, 'sweep failed')), everyMs);
    this.sweeper.unref();
    void this.sweep().catch((err: unknown) => this.log.error({ err }, 'sweep failed'));
    this.pump();
  }

  /** Aborts the runs in progress (their jobs wait again, for the next start), waits for them, and releases the directory. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweeper);
    for (const r of this.running.values()) r.controller.abort('stopping' satisfies AbortWhy);
    await Promise.all([...this.running.values()].map((r) => r.settled));
    for (const id of [...this.listeners.keys()]) this.close(id);
    await this.unlock();
  }

  get(id: string): JobRecord | undefined {
    return this.jobs.get(id);
  }

  /** Every job, newest first. */
  list(): JobRecord[] {
    return [...this.jobs.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  /** How many jobs there are in each status. */
  counts(): Record<JobStatus, number> {
    const out: Record<JobStatus, number> = { queued: 0, running: 0, done: 0, failed: 0 };
    for (const j of this.jobs.values()) out[j.status]++;
    return out;
  }

  /** 1 for the next job to run, … ; undefined when not waiting. */
  position(id: string): number | undefined {
    const i = this.queue.indexOf(id);
    return i < 0 ? undefined : i + 1;
  }

  /** Throws HATAKE_ERR_PRESCRIPTION_QUEUE_FULL when no job can wait now (`pending`: jobs about to join, such as uploads in progress). */
  assertRoom(pending = 0): void {
    const waiting = this.queue.length + pending;
    if (waiting >= this.opts.settings.maxQueuedJobs) {
      throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_QUEUE_FULL', `${waiting} jobs are waiting or being uploaded, as many as this service takes (prescription.maxQueuedJobs); try again later`);
    }
  }

  /** Accepts a job whose inputs are in place: records it and queues it. */
  async submit(job: Omit<JobRecord, 'status' | 'attempts' | 'progress'>): Promise<JobRecord> {
    this.assertRoom();
    const record: JobRecord = { ...job, status: 'queued', attempts: 0, progress: WAITING };
    this.reserved.delete(record.id);
    this.jobs.set(record.id, record);
    this.queue.push(record.id);
    await this.save(record);
    // on the next turn: the caller answers with the job as accepted (queued) first
    setImmediate(() => this.pump());
    return record;
  }

  /** Hears a job's progress and status changes until it is done or failed. Returns the unsubscribe function. */
  subscribe(id: string, listener: (e: JobEvent) => void): () => void {
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(id) === set) this.listeners.delete(id);
    };
  }

  /** Removes a job and its files; a waiting job leaves the queue, a running one is aborted first. */
  async remove(id: string): Promise<void> {
    const job = this.jobs.get(id);
    if (!job) return;
    const i = this.queue.indexOf(id);
    if (i >= 0) this.queue.splice(i, 1);
    const run = this.running.get(id);
    if (run) {
      run.controller.abort('cancelled' satisfies AbortWhy);
      await run.settled;
    }
    this.jobs.delete(id);
    this.close(id);
    await rm(this.paths(id).root, { recursive: true, force: true });
    this.log.info({ job: id }, 'job removed');
  }

  /** Removes finished jobs that finished more than `jobTtlHours` ago. Returns their ids. */
  async sweep(): Promise<string[]> {
    const cutoff = this.opts.now() - this.opts.settings.jobTtlHours * 3_600_000;
    const expired = [...this.jobs.values()].filter((j) => (j.status === 'done' || j.status === 'failed') && (j.finishedAt ?? j.createdAt) < cutoff).map((j) => j.id);
    for (const id of expired) await this.remove(id);
    if (expired.length > 0) this.log.info({ jobs: expired.length }, 'expired jobs removed');
    return expired;
  }

  private pump(): void {
    while (this.started && !this.stopping && this.running.size < this.opts.settings.maxConcurrentJobs && this.queue.length > 0) {
      const id = this.queue.shift()!;
      const job = this.jobs.get(id);
      if (!job) continue;
      const controller = new AbortController();
      const settled = this.run(job, controller).finally(() => {
        this.running.delete(id);
        this.pump();
      });
      this.running.set(id, { controller, settled });
    }
  }

  private async run(job: JobRecord, controller: AbortController): Promise<void> {
    const { now, settings, metrics } = this.opts;
    const paths = this.paths(job.id);
    const startedAt = now();
    metrics.waitSeconds.observe(Math.max(0, startedAt - job.createdAt) / 1000);
    job.status = 'running';
    job.startedAt = startedAt;
    job.attempts++;
    job.progress = { stage: 'read', fraction: 0, message: 'starting' };
    const timer = setTimeout(() => controller.abort('timeout' satisfies AbortWhy), settings.jobTimeoutMinutes * 60_000);
    const t0 = performance.now();
    let outcome: { code: string; message: string } | undefined;
    try {
      await this.save(job);
      this.emit(job.id, { type: 'status', job });
      this.log.info({ job: job.id, farm: job.farm, attempt: job.attempts }, 'run started');
      await rm(paths.outputs, { recursive: true, force: true });
      await mkdir(paths.outputs, { recursive: true });
      const field: unknown = JSON.parse(await readFile(join(paths.inputs, 'field.geojson'), 'utf8'));
      // the upload's own file name in the summary, never the server path it is stored under
      const layer = (name: Layer): { path: string; name: string } | undefined => {
        const input = job.inputs.find((i) => i.layer === name);
        return input ? { path: join(paths.inputs, `${name}.tif`), name: input.filename } : undefined;
      };
      const ndvi = layer('ndvi');
      const organic = layer('organic');
      // in a thread of its own: HTTP keeps answering while it computes, and cancelling stops it at once
      const result = await runPrescriptionIsolated(
        { yield: layer('yield')!, moisture: layer('moisture')!, ...(ndvi ? { ndvi } : {}), ...(organic ? { organic } : {}), field },
        job.params,
        {
          outDir: paths.outputs,
          memoryLimitMb: settings.jobMemoryMb,
          signal: controller.signal,
          onProgress: (p) => this.progress(job, p),
          ...(job.profiles ? { profiles: [...job.profiles] } : {}),
          ...(settings.maxCells !== undefined ? { maxCells: settings.maxCells } : {}),
          ...(job.title !== undefined ? { title: job.title } : {}),
        },
      );
      if (controller.signal.aborted) throw controller.signal.reason;
      job.summary = result.summary;
      job.files = result.files;
    } catch (err) {
      const why = controller.signal.aborted ? (controller.signal.reason as AbortWhy) : undefined;
      if (why === 'stopping' || why === 'cancelled') {
        metrics.runSeconds.observe({ status: why }, (performance.now() - t0) / 1000);
        if (why === 'stopping') {
          // not the job's fault: it runs again at the next start (and counts as an attempt only if the process dies)
          job.status = 'queued';
          job.attempts--;
          job.progress = WAITING;
          await this.save(job).catch((e: unknown) => this.log.error({ err: e, job: job.id }, 'cannot record job'));
        }
        this.log.info({ job: job.id, why }, 'run aborted');
        return;
      }
      if (why === 'timeout') outcome = { code: 'HATAKE_ERR_PRESCRIPTION_TIMEOUT' satisfies PrescriptionErrorCode, message: `the run took longer than ${settings.jobTimeoutMinutes} minutes (prescription.jobTimeoutMinutes) and was stopped` };
      else if (err instanceof VrtError) outcome = { code: err.code, message: err.message };
      else {
        this.log.error({ err, job: job.id }, 'run failed unexpectedly');
        const memory = err instanceof Error && err.message.includes('memory limit');
        outcome = { code: 'HATAKE_ERR_PRESCRIPTION_INTERNAL' satisfies PrescriptionErrorCode, message: memory ? `${err.message} (prescription.jobMemoryMb): use a wider working width or smaller rasters` : 'the run failed unexpectedly; the service log has the details' };
      }
    } finally {
      clearTimeout(timer);
    }
    metrics.runSeconds.observe({ status: outcome ? 'failed' : 'done' }, (performance.now() - t0) / 1000);
    await this.finish(job, outcome);
  }

  /** Records a job's end: done (no error) or failed with one; inputs are removed either way. */
  private async finish(job: JobRecord, error?: { code: string; message: string }): Promise<void> {
    job.finishedAt = this.opts.now();
    if (error) {
      job.status = 'failed';
      job.error = error;
      delete job.summary;
      delete job.files;
    } else {
      job.status = 'done';
      job.progress = { stage: 'write', fraction: 1, message: 'done' };
    }
    this.opts.metrics.results.inc({ status: job.status, code: error?.code ?? 'none' });
    this.log.info({ job: job.id, status: job.status, code: error?.code, ms: job.startedAt !== undefined ? job.finishedAt - job.startedAt : undefined }, 'run finished');
    await rm(this.paths(job.id).inputs, { recursive: true, force: true }).catch(() => undefined);
    await this.save(job).catch((err: unknown) => this.log.error({ err, job: job.id }, 'cannot record job'));
    this.emit(job.id, { type: 'status', job });
    this.close(job.id);
  }

  /** Keeps the latest progress; listeners hear a change of stage, a step of 1 %, or else at most 4 a second. */
  private progress(job: JobRecord, p: RunProgress): void {
    if (job.status !== 'running') return;
    job.progress = { stage: p.stage, fraction: Math.min(1, Math.max(0, p.fraction)), message: p.message };
    const last = this.lastNotified.get(job.id);
    const at = this.opts.now();
    if (last && last.stage === p.stage && job.progress.fraction - last.fraction < 0.01 && at - last.at < 250) return;
    this.lastNotified.set(job.id, { stage: p.stage, fraction: job.progress.fraction, at });
    this.emit(job.id, { type: 'progress', progress: job.progress });
  }

  /** Tells a job's listeners there is nothing more to hear, and forgets them. */
  private close(id: string): void {
    this.emit(id, { type: 'end' });
    this.listeners.delete(id);
    this.lastNotified.delete(id);
  }

  private emit(id: string, e: JobEvent): void {
    for (const l of this.listeners.get(id) ?? []) {
      try {
        l(e);
      } catch (err) {
        this.log.error({ err, job: id }, 'job listener failed');
      }
    }
  }

  /** Writes `job.json` whole or not at all (a crash leaves the previous one). */
  private async save(job: JobRecord): Promise<void> {
    const { record } = this.paths(job.id);
    const tmp = `${record}.tmp`;
    await writeFile(tmp, JSON.stringify(job));
    await rename(tmp, record);
  }

  private async lock(): Promise<void> {
    const path = join(this.opts.dir, LOCK_FILE);
    for (let tries = 0; tries < 2; tries++) {
      try {
        const fh = await open(path, 'wx');
        await fh.writeFile(String(process.pid));
        await fh.close();
        this.locked = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_DATA_DIR_LOCKED', `${this.opts.dir} is in use by process ${pid}${pid === process.pid ? ' (this one: another prescription service in this process)' : ''}; give each service its own prescription.dataDir, or remove ${path} if no service runs`);
      }
      // left by a process that is gone
      await rm(path, { force: true });
    }
    throw new PrescriptionError('HATAKE_ERR_PRESCRIPTION_DATA_DIR_LOCKED', `cannot take ${path}`);
  }

  private async unlock(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    await rm(join(this.opts.dir, LOCK_FILE), { force: true });
  }
}
