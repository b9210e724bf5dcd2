/**
 * The signed-in dashboard: a header with the connection state and — for
 * users who may command machines — STOP ALL, always visible and never behind
 * a dialog; the map; the selected machine's panel; active alarms; the fleet.
 */
import { Api, ApiError, wsUrl } from './api.ts';
import { fill, h } from './dom.ts';
import { Fleet, type Machine } from './fleet.ts';
import { age, commandStatus, latency, speedKmh } from './format.ts';
import { LiveLink } from './live.ts';
import { FleetMap } from './map.ts';
import { MachinePanel } from './panel.ts';
import { mayPrescribe, PrescriptionsView } from './prescriptions.ts';
import { isReplayMessage, maySeePlows, ReviewView } from './review.ts';
import { mayCommand, type CommandView, type Session } from './types.ts';

/** Telemetry messages per second per machine the map asks for (tractors send 5). */
const MAX_RATE = 5;

/** Alarms listed at most (newest first). */
const MAX_ALARMS_SHOWN = 50;

const KIND_ORDER = { tractor: 0, plow: 1, sensor: 2 } as const;

/** Builds the dashboard in `root`; returns how to tear it down. */
export function startApp(root: HTMLElement, session: Session, signOut: (why?: string) => void): () => void {
  const user = session.user;
  const api = new Api(session.token, () => signOut('Your session has ended: sign in again.'));
  const fleet = new Fleet();
  const commandsAny = (): boolean => [...fleet.machines.values()].some((m) => mayCommand(user, m));
  const isOperator = user.roles.includes('admin') || user.roles.includes('operator');

  // ── header ────────────────────────────────────────────────────────────────
  const conn = h('div', { class: 'conn', 'data-testid': 'connection', 'data-state': 'connecting', role: 'status' }, 'Connecting…');
  const estopAllStatus = h('div', { class: 'estop-all-status', 'data-testid': 'estop-all-status', role: 'status' });
  // built for operators and admins only (a viewer gets no command controls at all); hidden until a machine they may command is known
  const estopAll = isOperator ? h('button', { class: 'estop estop-all', 'data-testid': 'estop-all', hidden: true, onclick: () => void stopAll() }, 'STOP ALL') : undefined;
  // the plow review (road crews and admins): a second view beside the live map
  let review: ReviewView | undefined;
  // the prescriptions (agronomists and admins): a third view, offered once the gateway names the prescription service
  let prescriptions: PrescriptionsView | undefined;
  let prescriptionUrl: string | undefined;
  let farms: string[] = user.farms.filter((f) => f !== '*');
  const viewLive = maySeePlows(user) || mayPrescribe(user) ? h('button', { class: 'view-switch', 'data-testid': 'view-live', 'aria-pressed': 'true', onclick: () => showView('live') }, 'Live') : undefined;
  const viewReview = maySeePlows(user) ? h('button', { class: 'view-switch', 'data-testid': 'view-review', 'aria-pressed': 'false', onclick: () => showView('review') }, 'Plow review') : undefined;
  const viewPrescriptions = mayPrescribe(user) ? h('button', { class: 'view-switch', 'data-testid': 'view-prescriptions', 'aria-pressed': 'false', hidden: true, onclick: () => showView('prescriptions') }, 'Prescriptions') : undefined;
  const header = h(
    'header',
    { class: 'top' },
    h('div', { class: 'brand' }, 'hatake'),
    viewLive && h('nav', { class: 'views', 'aria-label': 'Views' }, viewLive, viewReview, viewPrescriptions),
    conn,
    estopAll,
    estopAllStatus,
    h('div', { class: 'spacer' }),
    h('div', { class: 'user', 'data-testid': 'user', 'data-roles': user.roles.join(',') }, `${user.name} (${user.roles.join(', ')})`),
    h('button', { class: 'plain', 'data-testid': 'sign-out', onclick: () => signOut() }, 'Sign out'),
  );

  // ── layout ────────────────────────────────────────────────────────────────
  const mapEl = h('div', { class: 'map', 'data-testid': 'map' });
  const panel = new MachinePanel({ api, fleet, user, onClose: () => select(undefined) });
  const alarmsEl = h('section', { class: 'alarms', 'data-testid': 'alarms' });
  const fleetList = h('ul', { class: 'fleet', 'data-testid': 'fleet-list' });
  const side = h('aside', { class: 'side' }, panel.el, alarmsEl, h('section', { class: 'fleet-box' }, h('h3', {}, 'Machines'), fleetList));
  const liveMain = h('main', { class: 'layout', 'data-testid': 'live-view' }, mapEl, side);
  fill(root, header, liveMain);
  const map = new FleetMap(mapEl, (id) => select(id));
  const resized = (): void => {
    map.resize();
    review?.resize();
    prescriptions?.resize();
  };
  function showView(which: 'live' | 'review' | 'prescriptions'): void {
    if (which === 'review' && !review) {
      review = new ReviewView({ token: session.token, onUnauthorized: () => signOut('Your session has ended: sign in again.'), send: (m) => live.send(m) });
      root.append(review.el);
    }
    if (which === 'prescriptions' && !prescriptions) {
      if (prescriptionUrl === undefined) return;
      prescriptions = new PrescriptionsView({ token: session.token, onUnauthorized: () => signOut('Your session has ended: sign in again.'), serviceUrl: prescriptionUrl, farms });
      root.append(prescriptions.el);
    }
    liveMain.hidden = which !== 'live';
    if (review) review.el.hidden = which !== 'review';
    if (prescriptions) prescriptions.el.hidden = which !== 'prescriptions';
    viewLive?.setAttribute('aria-pressed', String(which === 'live'));
    viewReview?.setAttribute('aria-pressed', String(which === 'review'));
    viewPrescriptions?.setAttribute('aria-pressed', String(which === 'prescriptions'));
    document.body.dataset['view'] = which;
    if (which === 'review') review?.show();
    else if (which === 'prescriptions') prescriptions?.show();
    else map.resize();
  }
  window.addEventListener('resize', resized);

  const rows = new Map<string, HTMLElement>();
  function select(id: string | undefined, pan = false): void {
    const m = id ? fleet.machines.get(id) : undefined;
    panel.show(m);
    map.select(m?.id, m, pan);
    for (const [rid, row] of rows) row.classList.toggle('selected', rid === m?.id);
  }

  // ── the fleet list ────────────────────────────────────────────────────────
  function row(m: Machine): HTMLElement {
    let el = rows.get(m.id);
    if (!el) {
      el = h('li', { 'data-testid': `fleet-row-${m.id}`, 'data-device': m.id, 'data-kind': m.kind });
      el.append(h('button', { class: 'row', onclick: () => select(m.id, true) }, h('span', { class: 'dot' }), h('span', { class: 'name' }, h('strong', {}, m.id), h('small', {}, m.name)), h('span', { class: 'badge' }), h('span', { class: 'speed' }), h('span', { class: 'last-cmd', 'data-testid': 'last-command' })));
      rows.set(m.id, el);
    }
    const mode = m.kind === 'tractor' ? (m.mode ?? 'unknown') : m.kind === 'plow' ? `blade ${typeof m.sample?.['blade'] === 'string' ? m.sample['blade'] : '?'}` : 'sensor';
    el.dataset['mode'] = m.mode ?? '';
    el.dataset['online'] = String(m.online);
    const badge = el.querySelector<HTMLElement>('.badge')!;
    badge.textContent = m.online ? mode : `${mode} · offline`;
    badge.className = `badge mode-${m.kind === 'tractor' ? (m.mode ?? 'unknown') : m.kind}`;
    el.querySelector<HTMLElement>('.speed')!.textContent = m.kind === 'sensor' ? '' : speedKmh(m.sample?.['speed']);
    const last = m.commands[0];
    el.dataset['commandStatus'] = last?.status ?? '';
    el.dataset['commandType'] = last?.type ?? '';
    el.querySelector<HTMLElement>('.last-cmd')!.textContent = last ? `${last.type}: ${commandStatus(last)}` : '';
    el.classList.toggle('offline', !m.online);
    return el;
  }

  function renderFleet(): void {
    const machines = [...fleet.machines.values()].sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.id.localeCompare(b.id));
    fill(fleetList, ...machines.map(row));
    if (estopAll) estopAll.hidden = !commandsAny();
  }

  // ── alarms ────────────────────────────────────────────────────────────────
  function renderAlarms(): void {
    const all = fleet.activeAlarms();
    // the newest first; a flood (a fleet stop of machines that are not running, say) stays readable
    const alarms = all.slice(0, MAX_ALARMS_SHOWN);
    fill(
      alarmsEl,
      h('h3', { 'data-testid': 'alarms-count', 'data-count': all.length }, `Alarms (${all.length})`),
      all.length > alarms.length && h('p', { class: 'hint' }, `Showing the newest ${alarms.length}.`),
      alarms.length === 0
        ? h('p', { class: 'hint' }, 'No active alarms.')
        : h(
            'ul',
            {},
            ...alarms.map((a) => {
              const machine = fleet.machines.get(a.device);
              const canAck = a.acknowledgedAt === undefined && mayCommand(user, machine ?? { kind: a.kind, ...(a.farm !== undefined ? { farm: a.farm } : {}) });
              return h(
                'li',
                { 'data-testid': 'alarm-row', 'data-alarm-id': a.id, 'data-type': a.type, 'data-device': a.device, 'data-acked': String(a.acknowledgedAt !== undefined), class: a.acknowledgedAt === undefined ? 'alarm unacked' : 'alarm' },
                h('strong', {}, `${a.type.replace(/_/g, ' ')} · ${a.device}`),
                h('span', {}, a.message),
                h('small', {}, `${age(Date.now() + fleet.clockOffsetMs - a.raisedAt)} ago${a.acknowledgedBy ? ` · acknowledged by ${a.acknowledgedBy}` : ''}`),
                canAck &&
                  h('button', {
                    'data-testid': 'alarm-ack',
                    onclick: () =>
                      void api.acknowledge(a.id).then(
                        (v) => fleet.apply({ type: 'alarm', phase: 'acknowledged', alarm: v }),
                        (err: unknown) => {
                          alarmsEl.dataset['error'] = err instanceof ApiError ? err.message : String(err);
                          alarmsEl.querySelector('h3')!.textContent = `Alarms: acknowledging failed (${alarmsEl.dataset['error']})`;
                        },
                      ),
                  }, 'Acknowledge'),
              );
            }),
          ),
    );
  }

  // ── STOP ALL ──────────────────────────────────────────────────────────────
  let fleetStop: { readonly ids: Set<string>; readonly at: number } | undefined;
  async function stopAll(): Promise<void> {
    estopAllStatus.textContent = 'STOP ALL: sending…';
    try {
      const commands = await api.estopAll();
      fleetStop = { ids: new Set(commands.map((c) => c.id)), at: Date.now() };
      for (const c of commands) fleet.command(c);
      renderStopAll();
    } catch (err) {
      estopAllStatus.textContent = `STOP ALL failed: ${(err as Error).message}`;
      estopAllStatus.dataset['state'] = 'failed';
    }
  }
  function renderStopAll(): void {
    if (!fleetStop) return;
    // the machines on this dashboard; a fleet stop also reaches machines it does not list (members of load-test groups)
    const states: CommandView[] = [];
    for (const m of fleet.machines.values()) for (const c of m.commands) if (fleetStop.ids.has(c.id)) states.push(c);
    const acked = states.filter((c) => c.status === 'accepted' || c.status === 'completed');
    const bad = states.filter((c) => !['sent', 'accepted', 'completed'].includes(c.status));
    const slowest = Math.max(0, ...acked.map((c) => c.ackLatencyMs ?? 0));
    const unlisted = fleetStop.ids.size - states.length;
    estopAllStatus.dataset['acked'] = String(acked.length);
    estopAllStatus.dataset['total'] = String(states.length);
    estopAllStatus.dataset['state'] = acked.length === states.length ? 'acked' : bad.length > 0 ? 'problem' : 'pending';
    estopAllStatus.textContent =
      `STOP ALL: ${acked.length}/${states.length} acknowledged${acked.length > 0 ? ` (slowest ${latency(slowest)})` : ''}` +
      `${bad.length > 0 ? ` · ${bad.map((c) => `${c.device} ${c.status.replace('_', ' ')}`).join(', ')}` : ''}` +
      `${unlisted > 0 ? ` · also sent to ${unlisted} machines not on this map (load-test groups)` : ''}`;
  }

  // ── live updates ──────────────────────────────────────────────────────────
  let panelDue = false;
  let alarmsDue = false;
  fleet.onChange((c) => {
    if (c.what === 'machines') {
      for (const m of fleet.machines.values()) map.update(m);
      map.fitOnce(fleet.machines.values());
      renderFleet();
      if (panel.selected) panel.update();
      return;
    }
    if (c.what === 'alarms') {
      // a burst of alarms (a fleet stop) is drawn once per frame
      if (!alarmsDue) {
        alarmsDue = true;
        requestAnimationFrame(() => {
          alarmsDue = false;
          renderAlarms();
        });
      }
      return;
    }
    if (c.what === 'command') {
      if (fleetStop?.ids.has(c.command.id)) renderStopAll();
      return;
    }
    const m = fleet.machines.get(c.id);
    if (!m) return;
    map.update(m);
    row(m);
    if (panel.selected === m.id && !panelDue) {
      panelDue = true;
      requestAnimationFrame(() => {
        panelDue = false;
        panel.update();
      });
    }
  });

  const setConn = (state: string, detail: string): void => {
    conn.dataset['state'] = state;
    conn.textContent = state === 'live' ? 'Live' : detail;
    conn.title = detail;
  };

  let opened = 0;
  const live = new LiveLink({
    url: wsUrl(),
    token: session.token,
    onOpen: (send) => {
      // everything the user may see (not only the listed machines: an alarm of any of them must arrive), at most
      // MAX_RATE telemetry messages per machine and second
      send({ type: 'subscribe', maxRate: MAX_RATE });
      // after a reconnection: catch up on what was missed while away
      if (opened++ > 0) void refresh();
    },
    // replayed telemetry (marked `replay`) and replay states go to the review, never to the live fleet
    onMessage: (m) => {
      if (isReplayMessage(m)) review?.handle(m);
      else fleet.apply(m);
    },
    onState: setConn,
    onExpired: () => signOut('Your session has expired: sign in again.'),
    onPong: (sentAt, t) => fleet.pong(sentAt, t),
  });

  async function refresh(): Promise<void> {
    const [devices, alarms] = await Promise.all([api.devices(), api.alarms()]);
    fleet.load(devices);
    fleet.loadAlarms(alarms);
  }

  // every second: ages and countdowns
  const ticker = setInterval(() => {
    if (panel.selected) panel.update();
  }, 500);

  (async () => {
    try {
      const [view, devices, alarms] = await Promise.all([api.map(), api.devices(), api.alarms()]);
      map.setBase(view);
      if (viewPrescriptions && view.prescriptionUrl) {
        prescriptionUrl = view.prescriptionUrl;
        // the farms the user may make prescriptions for: their own, or (an admin's '*') every farm on the map
        farms = [...new Set([...farms, ...view.fields.features.map((f) => f.properties.farm)])].sort();
        viewPrescriptions.hidden = false;
      }
      fleet.load(devices);
      fleet.loadAlarms(alarms);
      live.start();
    } catch (err) {
      setConn('closed', err instanceof ApiError ? `cannot load the fleet: ${err.message}` : String(err));
    }
  })();
  renderAlarms();

  return () => {
    clearInterval(ticker);
    review?.stop();
    prescriptions?.stop();
    window.removeEventListener('resize', resized);
    live.stop();
  };
}
