// The sources panel: each source's status from `/api/sources`, polled.
// LinkPanel is the same list for anything with a link to keep up (the
// outputs panel uses it too).

import { api, AuthError } from './api.js';
import { ago, h, parseTime } from './format.js';

const POLL_MS = 3000;

const STATE_LABELS = {
  connecting: 'connecting',
  connected: 'connected',
  reconnecting: 'reconnecting',
  error: 'error',
};

/**
 * A polled list of links (`path` answers an array in the shape of
 * `/api/sources`), one item per link with `data-<kind>` set to its name.
 * `stats(link)` gives the counters line. `empty` (optional) shows while
 * the list is empty; `section` (optional) hides while it is.
 */
export class LinkPanel {
  constructor(list, { path, kind, stats, empty = null, section = null, onAuthError }) {
    this.list = list;
    this.path = path;
    this.kind = kind;
    this.stats = stats;
    this.empty = empty;
    this.section = section;
    this.onAuthError = onAuthError;
    this.links = [];
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
      this.links = await api(this.path);
      this.fetchedAt = Date.now();
      this.unavailable = '';
    } catch (error) {
      if (error instanceof AuthError) {
        this.onAuthError(error);
        return;
      }
      this.unavailable = error instanceof TypeError ? 'Cannot reach the hub.' : `Cannot list ${this.kind}s: ${error.message}`;
    }
    this.#render();
    this.timer = setTimeout(() => this.#poll(), POLL_MS);
  }

  #render() {
    const now = Date.now();
    const items = this.links.map((link) => this.#item(link, now));
    if (this.unavailable) items.unshift(h('li', { class: 'source source-note' }, this.unavailable));
    this.list.replaceChildren(...items);
    if (this.empty) this.empty.hidden = this.links.length > 0 || Boolean(this.unavailable);
    if (this.section) this.section.hidden = this.links.length === 0;
  }

  #item(link, now) {
    let status = STATE_LABELS[link.state] ?? link.state;
    if (link.state === 'reconnecting' && typeof link.next_try_in_ms === 'number') {
      const left = Math.max(0, Math.ceil((link.next_try_in_ms - (now - this.fetchedAt)) / 1000));
      status = `reconnecting in ${left} s`;
    }
    return h(
      'li',
      { class: 'source', [`data-${this.kind}`]: link.name, 'data-state': link.state },
      h(
        'div',
        { class: 'source-head' },
        h('span', { class: 'source-name' }, link.name),
        h('span', { class: 'source-type' }, link.type),
        h('span', { class: 'pill', 'data-state': link.state }, status),
      ),
      link.url && !link.url.startsWith('demo:') ? h('div', { class: 'source-url', title: link.url }, link.url) : null,
      link.last_error ? h('div', { class: 'source-error' }, link.last_error) : null,
      h('div', { class: 'source-stats' }, ...this.stats(link, now)),
    );
  }
}

/** The sources panel: `/api/sources`, with each source's events. */
export class SourcesPanel extends LinkPanel {
  constructor(list, empty, { onAuthError }) {
    super(list, {
      path: '/api/sources',
      kind: 'source',
      empty,
      onAuthError,
      stats: (source, now) => {
        const last = parseTime(source.last_event_at);
        return [
          h('span', {}, h('strong', {}, String(source.events_seen ?? 0)), ' events'),
          h('span', {}, last ? `last ${ago(last, now)}` : 'no events yet'),
        ];
      },
    });
  }
}
