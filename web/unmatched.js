// The unmatched events panel: what sources delivered that no unit took,
// from `/api/events/unmatched`, polled, each with the `[[unit]]` section
// to add to homebus.toml. Hidden while there is none.

import { api, AuthError } from './api.js';
import { ago, h, parseTime } from './format.js';

const POLL_MS = 5000;
const COPIED_MS = 1500;

const keyOf = (event) => `${event.source}\u0000${event.name.toLowerCase()}`;

export class UnmatchedPanel {
  constructor(section, list, { onAuthError }) {
    this.section = section;
    this.list = list;
    this.onAuthError = onAuthError;
    this.timer = null;
    /** key → { item, fields, suggestion }: kept across polls, so a reader's selection survives. */
    this.items = new Map();
  }

  start() {
    this.stop();
    this.#poll();
  }

  stop() {
    clearTimeout(this.timer);
  }

  async #poll() {
    try {
      this.#render(await api('/api/events/unmatched'));
    } catch (error) {
      if (error instanceof AuthError) {
        this.onAuthError(error);
        return;
      }
      // A hub that cannot be reached says so in the connection badge; the
      // panel keeps what it last showed.
    }
    this.timer = setTimeout(() => this.#poll(), POLL_MS);
  }

  #render(events) {
    const now = Date.now();
    const seen = new Set();
    const ordered = events.map((event) => {
      const key = keyOf(event);
      seen.add(key);
      let entry = this.items.get(key);
      if (!entry) {
        entry = this.#item(event);
        this.items.set(key, entry);
      }
      this.#update(entry, event, now);
      return entry.item;
    });
    for (const key of [...this.items.keys()]) {
      if (!seen.has(key)) this.items.delete(key);
    }
    // Moves only what changed place, so an item being read stays put.
    ordered.forEach((item, index) => {
      if (this.list.children[index] !== item) this.list.insertBefore(item, this.list.children[index] ?? null);
    });
    while (this.list.children.length > ordered.length) this.list.lastElementChild.remove();
    this.section.hidden = events.length === 0;
    this.section.dataset.loaded = 'true';
  }

  #item(event) {
    const fields = {
      count: h('strong', {}),
      seen: h('span', {}),
      data: h('code', { class: 'unmatched-data' }),
      alternative: h('code', {}),
    };
    const suggestion = h('code', {});
    const copy = h('button', { type: 'button', class: 'link-button unmatched-copy' }, 'Copy');
    copy.addEventListener('click', () => copyText(suggestion, copy));
    const item = h(
      'li',
      { class: 'unmatched', 'data-name': event.name, 'data-source': event.source },
      h(
        'div',
        { class: 'source-head' },
        h('span', { class: 'source-name', title: event.name }, event.name),
        h('span', { class: 'source-type' }, `from ${event.source}`),
      ),
      h('div', { class: 'source-stats' }, h('span', {}, fields.count, ' events'), fields.seen),
      h('div', { class: 'unmatched-last' }, 'last data ', fields.data),
      h('div', { class: 'unmatched-add' }, h('span', {}, 'Add to homebus.toml:'), copy),
      h('pre', { class: 'unmatched-suggestion' }, suggestion),
      h('p', { class: 'unmatched-alternative muted' }, 'or set ', fields.alternative),
    );
    return { item, fields, suggestion, copy };
  }

  #update({ fields, suggestion, copy }, event, now) {
    setText(fields.count, String(event.count));
    setText(fields.seen, `last ${ago(parseTime(event.last_seen), now)}`);
    setText(fields.data, event.last_data ?? '(none)');
    fields.data.classList.toggle('muted', event.last_data == null);
    const text = event.suggestion ?? '';
    setText(suggestion, text || '(the name is too long to be an address)');
    copy.hidden = !text;
    setText(fields.alternative, event.alternative ?? '');
    fields.alternative.parentElement.hidden = !event.alternative;
  }
}

/** Changes a node's text only when it differs, so a selection in it survives. */
function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/** Copies the suggestion; where the clipboard is not allowed (plain http), selects it instead. */
async function copyText(element, button) {
  try {
    await navigator.clipboard.writeText(element.textContent);
    button.textContent = 'Copied';
  } catch {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    button.textContent = 'Selected: press Ctrl+C';
  }
  setTimeout(() => (button.textContent = 'Copy'), COPIED_MS);
}
