/**
 * `pnpm start` builds the web dashboard first when it is missing or older
 * than its sources (a stat of a few dozen files when it is current), so the
 * README's first command still does everything.
 */
import { DASHBOARD_BUILD_COMMAND, buildDashboard, dashboardStatus } from '@hatake/dashboard';

/** Builds the dashboard if it needs it; a failed build is reported and the demo goes on without it. */
export async function prepareDashboard(say: (line: string) => void): Promise<'current' | 'built' | 'failed'> {
  try {
    const status = await dashboardStatus();
    if (!status.stale) return 'current';
    say(status.built ? 'the dashboard changed since it was built: rebuilding it (a few seconds)…' : 'building the dashboard once (a few seconds)…');
    await buildDashboard();
    return 'built';
  } catch (err) {
    say(`the dashboard could not be built, the demo starts without it (build it with: ${DASHBOARD_BUILD_COMMAND}):\n${(err as Error).message}`);
    return 'failed';
  }
}
