// The sources panel: each source's status from `/api/sources`, polled.

import { api, AuthError } from './api.js';
import { ago, h, parseTime } from './format.js';

const POLL_MS = 3000;

const STATE_LABELS = {
  connecting: 'connecting',
  connected: 'connected',
  reconnecting: 'reconnecting',
  error: 'error',
};

export class SourcesPanel {
  constructor(list, empty, { onAuthError }) {
    this.list = list;
    this.empty = empty;
    this.onAuthError = onAuthError;
    this.sources = [];
    this.fetchedAt = 0;
    this.timer = null;
    this.ticker = null;
  }

  start() {
    this.stop();
    this.#poll();
    this.ticker = setInterval(() => this.#render(), 1000);
  }

  stop() {
    clearTimeout(this.timer);
    clearInterval(this.ticker);
  }

  async #poll() {
    try {
      this.sources = await api('/api/sources');
      this.fetchedAt = Date.now();
      this.unavailable = '';
    } catch (error) {
      if (error instanceof AuthError) {
        this.onAuthError(error);
        return;
      }
      this.unavailable = error instanceof TypeError ? 'Cannot reach the hub.' : `Cannot list sources: ${error.message}`;
    }
    this.#render();
    this.timer = setTimeout(() => this.#poll(), POLL_MS);
  }

  #render() {
    const now = Date.now();
    const items = this.sources.map((source) => this.#item(source, now));
    if (this.unavailable) items.unshift(h('li', { class: 'source source-note' }, this.unavailable));
    this.list.replaceChildren(...items);
    this.empty.hidden = this.sources.length > 0 || Boolean(this.unavailable);
  }

  #item(source, now) {
    let status = STATE_LABELS[source.state] ?? source.state;
    if (source.state === 'reconnecting' && typeof source.next_try_in_ms === 'number') {
      const left = Math.max(0, Math.ceil((source.next_try_in_ms - (now - this.fetchedAt)) / 1000));
      status = `reconnecting in ${left} s`;
    }
    const last = parseTime(source.last_event_at);
    return h(
      'li',
      { class: 'source', 'data-source': source.name, 'data-state': source.state },
      h(
        'div',
        { class: 'source-head' },
        h('span', { class: 'source-name' }, source.name),
        h('span', { class: 'source-type' }, source.type),
        h('span', { class: 'pill', 'data-state': source.state }, status),
      ),
      source.url && !source.url.startsWith('demo:') ? h('div', { class: 'source-url', title: source.url }, source.url) : null,
      source.last_error ? h('div', { class: 'source-error' }, source.last_error) : null,
      h(
        'div',
        { class: 'source-stats' },
        h('span', {}, h('strong', {}, String(source.events_seen ?? 0)), ' events'),
        h('span', {}, last ? `last ${ago(last, now)}` : 'no events yet'),
      ),
    );
  }
}
