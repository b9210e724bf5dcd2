/**
 * The dashboard's browser tests share this: the demo stack in this process on
 * loopback ports the system picks, the dashboard built if missing or stale,
 * Debian's Chromium through playwright-core (never `playwright install`), pages
 * with a generous default timeout, steps that leave a screenshot in
 * test-results/<name>/ when they fail, and signing in through the page.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startDemo, type Demo } from '@hatake/cli';
import { ensureDashboardBuilt } from '@hatake/dashboard';
import { silentLogger } from '@hatake/runtime';
import { demoTestEnv } from '@hatake/testkit';

const root = resolve(import.meta.dirname, '..', '..');
/** Debian's chromium, with the flags of shared/STACK.md. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A test file's demo stack and browser. */
export interface DashboardStack {
  readonly demo: Demo;
  /** The dashboard's URL (the gateway's `/`). */
  readonly base: string;
  /** A page in a fresh context (touch on when narrower than a laptop). */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  /** Runs a step; on failure saves a screenshot of the page as an artefact, then fails. */
  step(page: Page, name: string, fn: () => Promise<void>): Promise<void>;
  /** Signs in through the page and waits for the live stream. */
  signIn(page: Page, username: string): Promise<void>;
}

/** Starts the stack and the browser before the file's tests and stops them after; `name` names the artefact folder. */
export function dashboardStack(name: string, opts: { tokensFor?: string[] } = {}): DashboardStack {
  const artefacts = join(root, 'test-results', name);
  let data: string | undefined;
  let demo: Demo | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    await ensureDashboardBuilt();
    data = await mkdtemp(join(tmpdir(), `hatake-${name}-e2e-`));
    demo = await startDemo({ configFile: join(root, 'config', 'hatake.yaml'), env: demoTestEnv(data), logger: silentLogger(), cost: { ln: 10, r: 8, p: 1 }, ...(opts.tokensFor ? { tokensFor: opts.tokensFor } : {}) });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await demo?.stop();
    if (data) await rm(data, { recursive: true, force: true });
  });

  const stack: DashboardStack = {
    get demo() {
      return demo!;
    },
    get base() {
      return `${demo!.addresses.gateway.url}/`;
    },
    async newPage(viewport = { width: 1280, height: 800 }) {
      const context = await browser!.newContext({ viewport, hasTouch: viewport.width < 1100, acceptDownloads: true });
      contexts.push(context);
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      return page;
    },
    async step(page, stepName, fn) {
      try {
        await fn();
      } catch (err) {
        await mkdir(artefacts, { recursive: true });
        await page.screenshot({ path: join(artefacts, `${stepName}.png`), fullPage: true }).catch(() => undefined);
        throw err;
      }
    },
    async signIn(page, username) {
      await page.goto(stack.base);
      await page.getByTestId('signin-username').fill(username);
      await page.getByTestId('signin-password').fill(demo!.secrets.users[username]!);
      await page.getByTestId('signin-submit').click();
      await page.locator('[data-testid="connection"][data-state="live"]').waitFor();
    },
  };
  return stack;
}
