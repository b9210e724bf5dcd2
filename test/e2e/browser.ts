/**
 * The dashboard's browser tests share this: the demo stack in this process on
 * loopback ports the system picks, the dashboard built if missing or stale,
 * Debian's Chromium through playwright-core (never `playwright install`), pages
 * with a generous default timeout, steps that leave a screenshot in
 * test-results/<name>/ when they fail, and signing in through the page.
 * Every page reports Content-Security-Policy violations (the gateway serves
 * the dashboard under a strict policy): a test during which any page saw one
 * fails.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
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
  /** CSP violations seen by any page since the last test ended (each test is checked for none after it). */
  readonly cspViolations: string[];
}

/** Reports every `securitypolicyviolation` of the page to the test (the listener is installed before any page script runs). */
const REPORT_CSP = `document.addEventListener('securitypolicyviolation', (e) => {
  window.__hatakeCsp?.(e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + (e.sourceFile || document.URL) + ':' + e.lineNumber + (e.sample ? ' (' + e.sample + ')' : ''));
}, true);`;

/**
 * In the page (JavaScript in a string: the tests' TypeScript has no DOM types): every form control drawn in the
 * panel `selector` whose box reaches past the content box of the section it sits in, and the panel itself when
 * it scrolls sideways.
 */
const CONTROLS_OUTSIDE = `(selector) => {
  const side = document.querySelector(selector);
  if (!side) return ['no ' + selector];
  const out = [];
  if (side.scrollWidth > side.clientWidth + 0.5) out.push(selector + ' scrolls sideways: ' + side.scrollWidth + ' > ' + side.clientWidth + ' px');
  for (const el of side.querySelectorAll('input, select, button, textarea, fieldset, progress')) {
    if (el.getClientRects().length === 0) continue;
    const section = el.closest('section') || side;
    const s = section.getBoundingClientRect();
    const style = getComputedStyle(section);
    const left = s.left + section.clientLeft + parseFloat(style.paddingLeft);
    const right = s.left + section.clientLeft + section.clientWidth - parseFloat(style.paddingRight);
    const r = el.getBoundingClientRect();
    if (r.left < left - 0.5 || r.right > right + 0.5) {
      out.push((el.dataset.testid || el.getAttribute('name') || el.tagName.toLowerCase()) + ': ' + r.left.toFixed(1) + '–' + r.right.toFixed(1) + ' px, outside ' + left.toFixed(1) + '–' + right.toFixed(1) + ' px');
    }
  }
  return out;
}`;

/**
 * Every form control (input, select, button, textarea, fieldset, progress) drawn in the panel `selector` whose
 * box reaches past the content box of the section it sits in (padding excluded), and the panel itself when it
 * scrolls sideways: empty when everything fits.
 */
export function controlsOutside(page: Page, selector: string): Promise<string[]> {
  return page.evaluate(`(${CONTROLS_OUTSIDE})(${JSON.stringify(selector)})`) as Promise<string[]>;
}

/** Starts the stack and the browser before the file's tests and stops them after; `name` names the artefact folder. */
export function dashboardStack(name: string, opts: { tokensFor?: string[] } = {}): DashboardStack {
  const artefacts = join(root, 'test-results', name);
  let data: string | undefined;
  let demo: Demo | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const cspViolations: string[] = [];

  beforeAll(async () => {
    await ensureDashboardBuilt();
    data = await mkdtemp(join(tmpdir(), `hatake-${name}-e2e-`));
    demo = await startDemo({ configFile: join(root, 'config', 'hatake.yaml'), env: demoTestEnv(data), logger: silentLogger(), cost: { ln: 10, r: 8, p: 1 }, ...(opts.tokensFor ? { tokensFor: opts.tokensFor } : {}) });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 120_000);

  afterEach(() => {
    const seen = cspViolations.splice(0);
    expect(seen, 'Content-Security-Policy violations').toEqual([]);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await demo?.stop();
    if (data) await rm(data, { recursive: true, force: true });
  });

  const stack: DashboardStack = {
    cspViolations,
    get demo() {
      return demo!;
    },
    get base() {
      return `${demo!.addresses.gateway.url}/`;
    },
    async newPage(viewport = { width: 1280, height: 800 }) {
      const context = await browser!.newContext({ viewport, hasTouch: viewport.width < 1100, acceptDownloads: true });
      contexts.push(context);
      await context.exposeFunction('__hatakeCsp', (what: string) => void cspViolations.push(what));
      await context.addInitScript(REPORT_CSP);
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
