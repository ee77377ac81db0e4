// One tile per unit: what it reads, how long ago it changed, its controls
// (a toggle for switches, a slider for dimmers, a sparkline for sensors) and
// the last error of its scripts, if any.

import { api } from './api.js';
import { ago, decimalsOf, formatNumber, h, parseTime, svg } from './format.js';
import { iconFor } from './icons.js';

/** Points kept per sparkline: three minutes of a sensor reporting every second. */
const SPARK_POINTS = 180;

const DOMAIN_ORDER = ['sensor', 'light', 'switch'];

function kindOf(state) {
  const kind = state.attributes?.kind;
  if (kind) return kind;
  const domain = state.entity_id.split('.')[0];
  if (domain === 'light') return 'dimmer';
  if (domain === 'switch' || domain === 'binary_sensor') return 'switch';
  return 'sensor';
}

function numericValue(state) {
  const value = state.attributes?.value;
  if (typeof value === 'number') return value;
  const parsed = Number(state.state);
  return state.state !== '' && Number.isFinite(parsed) ? parsed : null;
}

/**
 * A unit's `attributes.script_error` as the tile shows it: the reason on the
 * tile; which script, where and why in the tooltip. The hub sends
 * `{script, at, reason}` (docs/scripts.md, "When a script fails"); a plain
 * text, as an older hub stored it, is shown whole. `null` when there is none.
 */
function scriptError(error) {
  if (typeof error === 'string') return error ? { reason: error, detail: error } : null;
  if (!error || typeof error !== 'object') return null;
  const reason = typeof error.reason === 'string' && error.reason ? error.reason : 'the script failed';
  const where = [error.script, error.at && `at ${error.at}`].filter(Boolean).join(' ');
  return { reason, detail: where ? `${where}: ${reason}` : reason };
}

class Tile {
  constructor(state, board) {
    this.board = board;
    this.entityId = state.entity_id;
    this.domain = state.entity_id.split('.')[0];
    this.kind = kindOf(state);
    this.state = null;
    this.points = [];
    this.decimals = 0;
    this.busy = false;
    this.dragging = false;
    this.#build(state);
    this.update(state, { initial: true });
  }

  #build(state) {
    const attributes = state.attributes ?? {};
    this.nameEl = h('h3', { class: 'tile-name' });
    this.entityEl = h('code', { class: 'tile-entity' }, this.entityId);
    this.stateEl = h('span', { class: 'state' });
    this.valueEl = h('span', { class: 'value' });
    this.uomEl = h('span', { class: 'uom' });
    this.sinceEl = h('time', { class: 'since' });
    this.element = h(
      'article',
      {
        class: `tile tile-${this.kind}`,
        'data-entity': this.entityId,
        'data-domain': this.domain,
        'data-kind': this.kind,
      },
      h(
        'header',
        { class: 'tile-head' },
        h('span', { class: 'tile-icon' }, iconFor(this.kind, this.entityId, attributes)),
        h('div', { class: 'tile-title' }, this.nameEl, this.entityEl),
      ),
    );
    const reading = h('div', { class: 'reading' }, this.valueEl, this.uomEl, this.stateEl);
    this.element.append(reading);
    if (this.kind === 'switch' || this.kind === 'dimmer') {
      this.toggleEl = h(
        'button',
        { class: 'toggle', type: 'button', role: 'switch', 'aria-checked': 'false', onclick: () => this.#toggle() },
        h('span', { class: 'knob', 'aria-hidden': 'true' }),
      );
      reading.append(this.toggleEl);
    }
    if (this.kind === 'dimmer') {
      this.sliderEl = h('input', {
        class: 'slider',
        type: 'range',
        min: '0',
        max: '100',
        step: '1',
        'aria-label': `${attributes.friendly_name || this.entityId} level`,
        oninput: () => {
          this.dragging = true;
          this.#showLevel(Number(this.sliderEl.value));
        },
        onchange: () => this.#setLevel(Number(this.sliderEl.value)),
      });
      this.element.append(this.sliderEl);
    }
    if (this.kind === 'sensor') {
      this.sparkLine = svg('polyline', { class: 'spark-line', points: '' });
      this.sparkArea = svg('polygon', { class: 'spark-area', points: '' });
      this.sparkEl = svg(
        'svg',
        { class: 'spark', viewBox: '0 0 100 32', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
        this.sparkArea,
        this.sparkLine,
      );
      this.rangeEl = h('span', { class: 'spark-range' });
      this.element.append(h('div', { class: 'spark-box' }, this.sparkEl), this.rangeEl);
    }
    // Hidden until a script of this unit fails; see #showScriptError.
    this.errorTextEl = h('span', { class: 'tile-error-text' });
    this.errorEl = h(
      'p',
      { class: 'tile-error', role: 'status', hidden: true },
      h('strong', { class: 'tile-error-label' }, 'Script error'),
      this.errorTextEl,
    );
    this.element.append(this.errorEl, h('footer', { class: 'tile-foot' }, this.sinceEl));
    this.element.addEventListener('animationend', () => this.element.classList.remove('flash'));
  }

  /**
   * Shows a new state. A snapshot older than what the stream already
   * brought is ignored; a real change makes the tile flash.
   */
  update(state, { initial = false, snapshot = false } = {}) {
    const previous = this.state;
    if (snapshot && previous && parseTime(state.last_updated) < parseTime(previous.last_updated)) return;
    if (previous && previous.last_updated === state.last_updated && previous.state === state.state) return;
    this.state = state;
    const attributes = state.attributes ?? {};
    const value = numericValue(state);
    const uom = attributes.unit_of_measurement ?? '';
    this.nameEl.textContent = attributes.friendly_name || this.entityId;
    this.element.dataset.state = state.state;
    this.element.dataset.name = (attributes.friendly_name || '').toLowerCase();

    if (this.kind === 'sensor') {
      this.decimals = Math.max(this.decimals, decimalsOf(state.state));
      this.valueEl.textContent = value === null ? state.state : formatNumber(value, this.decimals);
      this.uomEl.textContent = value === null ? '' : uom;
      this.stateEl.textContent = '';
      if (value !== null) this.#addPoint(parseTime(state.last_updated) || Date.now(), value);
    } else {
      const on = state.state === 'on';
      this.stateEl.textContent = state.state;
      this.toggleEl.setAttribute('aria-checked', String(on));
      this.toggleEl.setAttribute('aria-label', `${this.nameEl.textContent}: turn ${on ? 'off' : 'on'}`);
      if (this.kind === 'dimmer') {
        if (!this.dragging && value !== null) {
          this.sliderEl.max = String(Math.max(100, value));
          this.sliderEl.value = String(value);
        }
        this.#showLevel(value, uom);
      } else {
        this.valueEl.textContent = '';
        this.uomEl.textContent = '';
      }
    }
    this.#showScriptError(attributes.script_error);
    this.#showSince();
    const changed = previous && (previous.state !== state.state || numericValue(previous) !== value);
    if (!initial && changed) this.#flash();
  }

  #showLevel(value, uom = this.state?.attributes?.unit_of_measurement ?? '') {
    this.valueEl.textContent = value === null ? '' : formatNumber(value);
    this.uomEl.textContent = value === null ? '' : uom || '%';
    const max = Number(this.sliderEl.max) || 100;
    this.sliderEl.style.setProperty('--level', `${Math.min(100, ((value ?? 0) / max) * 100)}%`);
  }

  /**
   * Shows the unit's last script error (`attributes.script_error`, set by
   * the hub after a failed run and cleared by the next good one).
   */
  #showScriptError(attribute) {
    const error = scriptError(attribute);
    this.errorEl.hidden = !error;
    this.errorTextEl.textContent = error?.reason ?? '';
    this.errorEl.title = error?.detail ?? '';
    this.element.classList.toggle('has-script-error', Boolean(error));
  }

  #showSince() {
    const time = parseTime(this.state?.last_changed);
    this.sinceEl.textContent = `changed ${ago(time)}`;
    if (time) this.sinceEl.dateTime = new Date(time).toISOString();
  }

  tick() {
    this.#showSince();
  }

  #flash() {
    this.element.classList.remove('flash');
    // Reading layout restarts the animation when changes come quickly.
    void this.element.offsetWidth;
    this.element.classList.add('flash');
  }

  /** Adds history from `/api/history` before the live points. */
  addHistory(points) {
    const live = this.points;
    const first = live.length ? live[0][0] : Infinity;
    this.points = points.filter(([time]) => time < first).concat(live).slice(-SPARK_POINTS);
    this.#drawSpark();
  }

  #addPoint(time, value) {
    const last = this.points[this.points.length - 1];
    if (last && last[0] === time) return;
    this.points.push([time, value]);
    if (this.points.length > SPARK_POINTS) this.points.splice(0, this.points.length - SPARK_POINTS);
    this.#drawSpark();
  }

  #drawSpark() {
    const points = this.points;
    this.element.dataset.points = String(points.length);
    if (points.length < 2) {
      this.sparkLine.setAttribute('points', '');
      this.sparkArea.setAttribute('points', '');
      this.rangeEl.textContent = '';
      return;
    }
    const values = points.map(([, v]) => v);
    const low = Math.min(...values);
    const high = Math.max(...values);
    const span = high - low || 1;
    const start = points[0][0];
    const width = points[points.length - 1][0] - start || 1;
    const coords = points.map(([t, v]) => {
      const x = ((t - start) / width) * 100;
      const y = 29 - ((v - low) / span) * 26;
      return `${x.toFixed(2)},${y.toFixed(2)}`;
    });
    this.sparkLine.setAttribute('points', coords.join(' '));
    this.sparkArea.setAttribute('points', `0,32 ${coords.join(' ')} 100,32`);
    const uom = this.state?.attributes?.unit_of_measurement ?? '';
    this.rangeEl.textContent = `${formatNumber(low, this.decimals)} – ${formatNumber(high, this.decimals)} ${uom}`.trim();
  }

  async #command(body) {
    const address = this.state?.attributes?.address;
    if (!address) {
      this.board.onError(`${this.entityId} has no address to send commands to`);
      return;
    }
    this.busy = true;
    this.element.classList.add('busy');
    try {
      const state = await api(`/api/units/${encodeURIComponent(address)}/command`, { method: 'POST', body });
      if (state && state.entity_id === this.entityId) this.update(state);
    } catch (error) {
      this.board.onError(`Could not change ${this.nameEl.textContent}: ${error.message}`, error);
    } finally {
      this.busy = false;
      this.element.classList.remove('busy');
    }
  }

  #toggle() {
    if (this.busy) return;
    this.#command({ command: this.state?.state === 'on' ? 'off' : 'on' });
  }

  async #setLevel(value) {
    await this.#command({ command: 'set', value });
    this.dragging = false;
  }
}

/** Every tile, kept in entity order, filtered by domain and name. */
export class TileBoard {
  constructor(container, { onError, onDomains }) {
    this.container = container;
    this.tiles = new Map();
    this.onError = onError;
    this.onDomains = onDomains;
    this.domain = '';
    this.query = '';
    setInterval(() => this.tiles.forEach((tile) => tile.tick()), 1000);
  }

  /** Applies `/api/states`: adds, updates and removes tiles. */
  loadSnapshot(states) {
    const seen = new Set();
    for (const state of states) {
      seen.add(state.entity_id);
      this.apply(state, { snapshot: true });
    }
    for (const [entityId, tile] of this.tiles) {
      if (!seen.has(entityId)) {
        tile.element.remove();
        this.tiles.delete(entityId);
      }
    }
    this.#changedSet();
  }

  /** Applies one state from the stream; `null` removes the entity. */
  apply(state, { snapshot = false, entityId = state?.entity_id } = {}) {
    if (!state) {
      const tile = this.tiles.get(entityId);
      if (tile) {
        tile.element.remove();
        this.tiles.delete(entityId);
        this.#changedSet();
      }
      return;
    }
    const tile = this.tiles.get(state.entity_id);
    if (tile) {
      tile.update(state, { snapshot });
      return;
    }
    const created = new Tile(state, this);
    this.tiles.set(state.entity_id, created);
    this.#place(created);
    this.#filterOne(created);
    if (!snapshot) this.#changedSet();
  }

  sensors() {
    return [...this.tiles.values()].filter((tile) => tile.kind === 'sensor');
  }

  tile(entityId) {
    return this.tiles.get(entityId);
  }

  #place(tile) {
    const key = sortKey(tile);
    const after = [...this.container.children].find((element) => {
      const other = this.tiles.get(element.dataset.entity);
      return other && sortKey(other) > key;
    });
    this.container.insertBefore(tile.element, after ?? null);
  }

  #changedSet() {
    const counts = new Map();
    for (const tile of this.tiles.values()) counts.set(tile.domain, (counts.get(tile.domain) ?? 0) + 1);
    this.onDomains(counts);
    this.filter();
  }

  setFilter({ domain = this.domain, query = this.query }) {
    this.domain = domain;
    this.query = query.trim().toLowerCase();
    this.filter();
  }

  filter() {
    let shown = 0;
    for (const tile of this.tiles.values()) if (this.#filterOne(tile)) shown += 1;
    return shown;
  }

  visibleCount() {
    return [...this.tiles.values()].filter((tile) => !tile.element.hidden).length;
  }

  #filterOne(tile) {
    const name = `${tile.element.dataset.name ?? ''} ${tile.entityId}`;
    const visible = (!this.domain || tile.domain === this.domain) && (!this.query || name.includes(this.query));
    tile.element.hidden = !visible;
    return visible;
  }
}

function sortKey(tile) {
  const rank = DOMAIN_ORDER.indexOf(tile.domain);
  const name = tile.state?.attributes?.friendly_name || tile.entityId;
  return `${String(rank < 0 ? 9 : rank)}|${tile.domain}|${name.toLowerCase()}`;
}
