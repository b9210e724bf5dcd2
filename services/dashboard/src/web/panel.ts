/**
 * The side panel of the selected machine: its live figures, and — for
 * operators of its farm and admins only — its e-stop, commands (the ones
 * that set it moving are armed, then confirmed within the gateway's arm
 * time), a working speed (`set_speed`) and a mission to start
 * (`start_mission`, armed like resume), the control lease — with a notice
 * when someone takes it over — and each command's state with its latency.
 * Viewers get the figures and the command log; the controls are not built.
 */
import { ApiError, type Api } from './api.ts';
import { fill, h } from './dom.ts';
import type { Fleet, Machine } from './fleet.ts';
import { age, commandLabel, commandName, commandStatus, fix, kmhToMps, latency, speedKmh, unit } from './format.ts';
import { ARMED_TYPES, MISSION_ID_PATTERN, SPEED_PARAM, mayCommand, type ArmedView, type CommandParams, type User } from './types.ts';

/** The commands offered, in order (e-stop has its own button). */
const COMMANDS = ['pause', 'stop', 'resume', 'return_home'] as const;

interface Arm {
  readonly view: ArmedView;
  /** What was armed with it (the gateway runs these at the confirmation). */
  readonly params?: CommandParams;
  /** expiresAt on this browser's clock. */
  readonly localExpiresAt: number;
}

/** The speed field's bounds, km/h (the gateway's, in m/s, × 3.6). */
const SPEED_KMH = { min: SPEED_PARAM.min * 3.6, max: SPEED_PARAM.max * 3.6 } as const;

export class MachinePanel {
  readonly el: HTMLElement;
  private readonly api: Api;
  private readonly fleet: Fleet;
  private readonly user: User;
  private readonly onClose: () => void;
  private machine: Machine | undefined;
  private arm: Arm | undefined;
  private takeoverOpen = false;
  private stats: Record<string, HTMLElement> = {};
  private modeBadge: HTMLElement | undefined;
  private armBox: HTMLElement | undefined;
  private leaseBox: HTMLElement | undefined;
  private commandsList: HTMLElement | undefined;
  private message: HTMLElement | undefined;
  /** Shown in the lease box after someone took control of this machine from this user. */
  private lostControl: string | undefined;

  constructor(deps: { api: Api; fleet: Fleet; user: User; onClose: () => void }) {
    this.api = deps.api;
    this.fleet = deps.fleet;
    this.user = deps.user;
    this.onClose = deps.onClose;
    this.el = h('section', { class: 'panel', 'data-testid': 'machine-panel', 'aria-live': 'polite' }, h('p', { class: 'hint' }, 'Select a machine on the map or in the list.'));
  }

  get selected(): string | undefined {
    return this.machine?.id;
  }

  /** Shows a machine (or nothing); builds its panel once, then {@link update} refreshes it. */
  show(m: Machine | undefined): void {
    this.machine = m;
    this.arm = undefined;
    this.takeoverOpen = false;
    this.lostControl = undefined;
    this.stats = {};
    if (!m) {
      this.el.removeAttribute('data-device');
      fill(this.el, h('p', { class: 'hint' }, 'Select a machine on the map or in the list.'));
      return;
    }
    this.el.dataset['device'] = m.id;
    const commandable = mayCommand(this.user, m);
    const stat = (key: string, label: string): HTMLElement[] => {
      const dd = h('dd', { 'data-testid': `stat-${key}` }, '—');
      this.stats[key] = dd;
      return [h('dt', {}, label), dd];
    };
    const rows: HTMLElement[][] = [stat('speed', 'Speed')];
    if (m.kind === 'tractor') rows.push(stat('mode', 'Mode'), stat('fuel', 'Fuel'), stat('implement', 'Implement'), stat('link', 'Link'));
    if (m.kind === 'plow') rows.push(stat('blade', 'Blade'), stat('spread', 'Spreading'));
    if (m.kind === 'sensor') rows.push(stat('readings', 'Readings'));
    rows.push(stat('fix', 'GNSS fix'), stat('seen', 'Last seen'), stat('latency', 'Latency'));
    this.modeBadge = h('span', { class: 'badge', 'data-testid': 'panel-mode' });
    this.message = h('p', { class: 'panel-message', 'data-testid': 'panel-message', role: 'status' });
    this.commandsList = h('ol', { class: 'commands', 'data-testid': 'commands' });
    this.armBox = commandable ? h('div', { class: 'arm', 'data-testid': 'arm', hidden: true }) : undefined;
    const speedInput = h('input', { type: 'number', inputmode: 'decimal', min: SPEED_KMH.min, max: SPEED_KMH.max, step: 0.1, required: true, 'data-testid': 'speed-input', 'aria-describedby': `speed-hint-${m.id}` });
    // no pattern attribute: the gateway's pattern is not valid under the v flag HTML applies (an unescaped -); startMission() checks it
    const missionInput = h('input', { type: 'text', maxlength: 64, required: true, autocapitalize: 'none', spellcheck: 'false', placeholder: 'e.g. spring-1', 'data-testid': 'mission-input' });
    this.leaseBox = commandable ? h('div', { class: 'lease', 'data-testid': 'lease' }) : undefined;
    fill(
      this.el,
      h(
        'header',
        { class: 'panel-head' },
        h('div', {}, h('h2', { 'data-testid': 'panel-title' }, m.name), h('small', {}, `${m.id} · ${m.kind}${m.farm ? ` · ${m.farm}` : ''}`)),
        this.modeBadge,
        h('button', { class: 'icon', 'aria-label': 'Close', 'data-testid': 'panel-close', onclick: () => this.onClose() }, '×'),
      ),
      commandable && h('button', { class: 'estop', 'data-testid': 'panel-estop', onclick: () => void this.send('estop') }, 'E-STOP'),
      h('dl', { class: 'stats' }, ...rows.flat()),
      commandable &&
        h(
          'div',
          { class: 'controls', 'data-testid': 'controls' },
          ...COMMANDS.map((type) => h('button', { 'data-testid': `cmd-${type}`, onclick: () => void this.send(type) }, ARMED_TYPES.has(type) ? `${commandName(type)}…` : commandName(type))),
        ),
      commandable &&
        h(
          'form',
          { class: 'param-cmd', 'data-testid': 'speed-form', novalidate: true, onsubmit: (e: Event) => { e.preventDefault(); this.setSpeed(speedInput.value); } },
          h('label', {}, 'Working speed', h('span', { class: 'with-unit' }, speedInput, h('span', {}, 'km/h'))),
          h('button', { type: 'submit', 'data-testid': 'cmd-set_speed' }, commandName('set_speed')),
          h('small', { class: 'hint', id: `speed-hint-${m.id}` }, `${SPEED_KMH.min}–${SPEED_KMH.max} km/h, sent in m/s; the machine may take less.`),
        ),
      commandable &&
        h(
          'form',
          { class: 'param-cmd', 'data-testid': 'mission-form', novalidate: true, onsubmit: (e: Event) => { e.preventDefault(); this.startMission(missionInput.value); } },
          h('label', {}, 'Mission', missionInput),
          h('button', { type: 'submit', 'data-testid': 'cmd-start_mission' }, `${commandName('start_mission')}…`),
        ),
      this.armBox,
      this.leaseBox,
      h('h3', {}, 'Commands'),
      this.commandsList,
      this.message,
    );
    if (commandable) {
      this.api.lease(m.id).then(
        (l) => this.fleet.lease(l),
        () => undefined,
      );
    }
    this.update();
  }

  /** Refreshes what is shown from the machine's state (and the arm countdown). */
  update(now = Date.now()): void {
    const m = this.machine;
    if (!m) return;
    const s = m.sample;
    const set = (key: string, text: string): void => {
      const el = this.stats[key];
      if (el && el.textContent !== text) el.textContent = text;
    };
    set('speed', speedKmh(s?.['speed']));
    set('mode', m.mode ?? '—');
    set('fuel', unit(s?.['fuel'], '%'));
    set('implement', typeof s?.['implement'] === 'string' ? s['implement'] : '—');
    set('link', [typeof s?.['rssi'] === 'number' ? `${s['rssi']} dBm` : '', typeof s?.['rtt'] === 'number' ? `RTT ${Math.round(s['rtt'])} ms` : ''].filter(Boolean).join(', ') || '—');
    set('blade', typeof s?.['blade'] === 'string' ? s['blade'] : '—');
    set('spread', typeof s?.['spread'] === 'number' ? `${s['spread']} g/m² ${typeof s['material'] === 'string' ? s['material'] : ''}` : '—');
    set('readings', s ? ['soilMoisture:%', 'soilTemp:°C', 'airTemp:°C', 'humidity:%', 'wind:m/s'].flatMap((k) => { const [f, u] = k.split(':') as [string, string]; return typeof s[f] === 'number' ? [`${f} ${(s[f] as number).toFixed(1)} ${u}`] : []; }).join(', ') || '—' : '—');
    set('fix', fix(s));
    set('seen', m.lastSeen !== undefined ? `${age(now + this.fleet.clockOffsetMs - m.lastSeen)} ago${m.online ? '' : ' (offline)'}` : m.online ? '—' : 'offline');
    set('latency', latency(m.latencyMs));
    if (this.modeBadge) {
      const mode = m.kind === 'tractor' ? (m.mode ?? 'unknown') : m.online ? 'online' : 'offline';
      this.modeBadge.textContent = mode;
      this.modeBadge.className = `badge mode-${mode}`;
      this.modeBadge.dataset['mode'] = mode;
    }
    // the lease first: losing control drops an arm (its confirmation would be refused)
    this.renderLease();
    this.renderArm(now);
    this.renderCommands();
  }

  private renderArm(now: number): void {
    const box = this.armBox;
    if (!box) return;
    const arm = this.arm;
    if (!arm || arm.view.device !== this.machine?.id) {
      if (!box.hidden) {
        box.hidden = true;
        fill(box);
      }
      return;
    }
    const leftMs = arm.localExpiresAt - now;
    // whole seconds, rounded: the clock offset is only known to a few ms, so 5.02 s reads as 5
    const left = Math.max(1, Math.round(leftMs / 1000));
    if (leftMs <= 0) {
      this.arm = undefined;
      this.say(`${commandName(arm.view.type)} was not confirmed in time: nothing was sent`);
      return this.renderArm(now);
    }
    box.hidden = false;
    const label = `Confirm ${commandLabel({ type: arm.view.type, ...(arm.params ? { params: arm.params } : {}) }).replace(/^./, (c) => c.toLowerCase())} (${left} s)`;
    const existing = box.querySelector<HTMLButtonElement>('[data-testid="arm-confirm"]');
    if (existing && existing.dataset['arm'] === arm.view.id) {
      if (existing.textContent !== label) existing.textContent = label;
      return;
    }
    fill(
      box,
      h('span', {}, `${commandName(arm.view.type)} armed: it sets the machine moving by itself.`),
      h('button', { class: 'confirm', 'data-testid': 'arm-confirm', 'data-arm': arm.view.id, 'data-type': arm.view.type, onclick: () => void this.confirm() }, label),
      h('button', { 'data-testid': 'arm-cancel', onclick: () => { this.arm = undefined; this.update(); } }, 'Cancel'),
    );
  }

  private renderLease(): void {
    const box = this.leaseBox;
    const m = this.machine;
    if (!box || !m) return;
    const holder = m.lease?.holder ?? null;
    const state = holder === null ? 'free' : holder === this.user.username ? 'you' : 'other';
    // someone took control from this user while they watched: say so until they take it back or look elsewhere
    if (box.dataset['state'] === 'you' && state === 'other') {
      this.lostControl = `You lost control of ${m.id}: ${m.leaseWhy ?? `${holder} has it now`}`;
      this.arm = undefined;
    }
    if (state === 'you') this.lostControl = undefined;
    if (box.dataset['state'] === state && box.dataset['holder'] === (holder ?? '') && box.dataset['takeover'] === String(this.takeoverOpen) && box.dataset['lost'] === String(this.lostControl !== undefined)) return;
    box.dataset['state'] = state;
    box.dataset['holder'] = holder ?? '';
    box.dataset['takeover'] = String(this.takeoverOpen);
    box.dataset['lost'] = String(this.lostControl !== undefined);
    const since = m.lease?.since !== undefined ? ` since ${new Date(m.lease.since).toLocaleTimeString()}` : '';
    const lost = this.lostControl !== undefined && h('p', { class: 'lease-lost', 'data-testid': 'lease-lost', role: 'alert' }, this.lostControl);
    const text = h('span', { 'data-testid': 'lease-holder' }, holder === null ? 'Control: free' : state === 'you' ? `Control: you${since}` : `Control: ${holder}${since}`);
    if (state === 'free') return fill(box, lost, text, h('button', { 'data-testid': 'lease-take', onclick: () => void this.leaseAction('take') }, 'Take control'));
    if (state === 'you') return fill(box, text, h('button', { 'data-testid': 'lease-release', onclick: () => void this.leaseAction('release') }, 'Release'));
    if (!this.takeoverOpen) return fill(box, lost, text, h('button', { 'data-testid': 'lease-takeover', onclick: () => { this.takeoverOpen = true; this.renderLease(); } }, 'Take over…'));
    const reason = h('input', { type: 'text', 'data-testid': 'lease-reason', placeholder: 'Why (recorded)', minlength: 3, maxlength: 256, 'aria-label': 'Reason for taking over' });
    fill(
      box,
      lost,
      text,
      reason,
      h('button', { 'data-testid': 'lease-takeover-confirm', onclick: () => void this.leaseAction('takeover', reason.value.trim()) }, 'Take over'),
      h('button', { 'data-testid': 'lease-takeover-cancel', onclick: () => { this.takeoverOpen = false; this.renderLease(); } }, 'Cancel'),
    );
    reason.focus();
  }

  private renderCommands(): void {
    const list = this.commandsList;
    const m = this.machine;
    if (!list || !m) return;
    const key = m.commands.map((c) => `${c.id}:${c.status}`).join(',');
    if (list.dataset['key'] === key) return;
    list.dataset['key'] = key;
    if (m.commands.length === 0) return fill(list, h('li', { class: 'hint' }, 'None since this page opened.'));
    fill(
      list,
      ...m.commands.map((c) =>
        h(
          'li',
          { 'data-testid': 'command-row', 'data-id': c.id, 'data-type': c.type, 'data-status': c.status, class: `cmd-${c.status}` },
          h('strong', {}, commandLabel(c)),
          h('span', { class: 'cmd-status', 'data-testid': 'command-status' }, commandStatus(c)),
          h('small', {}, `${c.issuer} · ${new Date(c.issuedAt).toLocaleTimeString()}`),
        ),
      ),
    );
  }

  private say(text: string, error = false): void {
    if (!this.message) return;
    this.message.textContent = text;
    this.message.classList.toggle('error', error);
  }

  /** The speed field's value (km/h) as `set_speed` in m/s; an out-of-range value is refused here, nothing sent. */
  private setSpeed(kmh: string): void {
    const speed = kmhToMps(kmh, SPEED_PARAM);
    if (speed === undefined) return this.say(`Enter a working speed from ${SPEED_KMH.min} to ${SPEED_KMH.max} km/h.`, true);
    void this.send('set_speed', { speed });
  }

  /** Arms `start_mission` with the mission field's id (confirmed like resume). */
  private startMission(id: string): void {
    const missionId = id.trim();
    if (!new RegExp(MISSION_ID_PATTERN).test(missionId)) return this.say('Enter a mission id: letters, digits, - and _, up to 64, starting with a letter or digit.', true);
    void this.send('start_mission', { missionId });
  }

  private async send(type: string, params?: CommandParams): Promise<void> {
    const m = this.machine;
    if (!m) return;
    this.say('');
    try {
      const r = await this.api.command(m.id, type, params ? { params } : {});
      if ('armed' in r) {
        this.arm = { view: r.armed, ...(params ? { params } : {}), localExpiresAt: r.armed.expiresAt - this.fleet.clockOffsetMs };
        this.update();
        return;
      }
      this.fleet.command(r);
    } catch (err) {
      this.say(`${commandName(type)} refused: ${(err as Error).message}`, true);
    }
  }

  private async confirm(): Promise<void> {
    const arm = this.arm;
    if (!arm) return;
    this.arm = undefined;
    this.update();
    try {
      const r = await this.api.command(arm.view.device, arm.view.type, { confirm: arm.view.id });
      if (!('armed' in r)) this.fleet.command(r);
    } catch (err) {
      this.say(`${commandName(arm.view.type)} refused: ${(err as Error).message}`, true);
    }
  }

  private async leaseAction(action: 'take' | 'release' | 'takeover', reason?: string): Promise<void> {
    const m = this.machine;
    if (!m) return;
    if (action === 'takeover' && (reason === undefined || reason.length < 3)) {
      this.say('A take-over needs a reason of at least 3 characters (it is recorded).', true);
      return;
    }
    try {
      this.fleet.lease(await this.api.leaseAction(m.id, action, reason));
      this.takeoverOpen = false;
      this.say('');
      this.update();
    } catch (err) {
      this.say(err instanceof ApiError ? err.message : String(err), true);
    }
  }
}
