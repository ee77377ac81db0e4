// The dashboard: loads the units, follows the live stream, polls the
// sources, the outputs and the events no unit took, and asks for an API key when the
// hub wants one.

import { api, apiKey, ApiError, AuthError, setApiKey } from './api.js';
import { h } from './format.js';
import { historyPoints } from './history.js';
import { SourcesPanel } from './sources.js';
import { OutputsPanel } from './outputs.js';
import { LiveStream } from './stream.js';
import { TileBoard } from './tiles.js';
import { UnmatchedPanel } from './unmatched.js';

const $ = (id) => document.getElementById(id);

/** How far back the sparklines start. */
const HISTORY_WINDOW_MS = 30 * 60 * 1000;
/** The most history points asked for per sensor. */
const HISTORY_LIMIT = 5000;
const BOOT_RETRY_MAX_MS = 15000;

const CONNECTION_LABELS = {
  connecting: 'connecting',
  live: 'live',
  reconnecting: 'reconnecting',
  offline: 'offline',
  locked: 'key needed',
};

let toastTimer = null;
let bootDelay = 1000;
let historyAvailable = true;

const board = new TileBoard($('tiles'), {
  onError: (message, error) => (error instanceof AuthError ? lock(error) : toast(message)),
  onDomains: renderDomains,
});

const sources = new SourcesPanel($('sources'), $('sources-empty'), { onAuthError: lock });

const outputs = new OutputsPanel($('outputs-panel'), $('outputs'), { onAuthError: lock });

const unmatched = new UnmatchedPanel($('unmatched'), $('unmatched-list'), { onAuthError: lock });

const stream = new LiveStream({
  onChange: (state, entityId) => {
    board.apply(state, { entityId });
    showEmpty();
  },
  onOpen: (reconnected) => {
    if (reconnected) reloadStates();
  },
  onReset: () => reloadStates(),
  onStatus: showConnection,
  mayRetry: async () => {
    try {
      await reloadStates({ quiet: true });
      return true;
    } catch (error) {
      return !(error instanceof AuthError);
    }
  },
});

function showConnection(status) {
  const element = $('connection');
  element.dataset.state = status;
  document.body.dataset.connection = status;
  element.querySelector('.label').textContent = CONNECTION_LABELS[status] ?? status;
}

function banner(text) {
  const element = $('banner');
  element.textContent = text ?? '';
  element.hidden = !text;
}

function toast(text) {
  const element = $('toast');
  element.textContent = text;
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (element.hidden = true), 5000);
}

function renderDomains(counts) {
  const container = $('domains');
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  if (board.domain && !counts.has(board.domain)) board.setFilter({ domain: '' });
  const chip = (domain, label, count) =>
    h(
      'button',
      {
        type: 'button',
        class: 'chip',
        'data-domain': domain,
        'aria-pressed': String(board.domain === domain),
        onclick: () => {
          board.setFilter({ domain });
          renderDomains(counts);
          showEmpty();
        },
      },
      label,
      h('span', { class: 'count' }, String(count)),
    );
  container.replaceChildren(
    chip('', 'All', total),
    ...[...counts.keys()].sort().map((domain) => chip(domain, domain, counts.get(domain))),
  );
  showEmpty();
}

function showEmpty() {
  const empty = $('empty');
  if (board.tiles.size === 0) {
    empty.textContent = 'No units yet. Declare [[unit]] sections in homebus.toml, or start the hub with --demo.';
    empty.hidden = false;
  } else if (board.visibleCount() === 0) {
    empty.textContent = 'No unit matches this filter.';
    empty.hidden = false;
  } else {
    empty.hidden = true;
  }
}

/** Reloads every state; throws when the hub refuses or cannot be reached. */
async function reloadStates({ quiet = false } = {}) {
  try {
    board.loadSnapshot(await api('/api/states'));
    showEmpty();
  } catch (error) {
    if (error instanceof AuthError) lock(error);
    else if (!quiet) toast(`Could not reload the states: ${error.message}`);
    throw error;
  }
}

async function loadHistory() {
  if (!historyAvailable) return;
  const since = new Date(Date.now() - HISTORY_WINDOW_MS).toISOString();
  for (const tile of board.sensors()) {
    const query = `entity_id=${encodeURIComponent(tile.entityId)}&since=${encodeURIComponent(since)}&limit=${HISTORY_LIMIT}`;
    try {
      tile.addHistory(historyPoints(await api(`/api/history?${query}`)));
    } catch (error) {
      // A hub without a store has no history: the sparklines grow from the stream.
      if (error instanceof ApiError && (error.status === 404 || error.status === 501)) {
        historyAvailable = false;
        return;
      }
      if (!(error instanceof ApiError)) return;
    }
  }
}

function lock(error) {
  stream.stop();
  sources.stop();
  outputs.stop();
  unmatched.stop();
  const refused = Boolean(apiKey());
  setApiKey('');
  showConnection('locked');
  banner('');
  $('dashboard').hidden = true;
  $('forget-key').hidden = true;
  $('login').hidden = false;
  const message = $('login-error');
  if (refused) {
    message.textContent =
      error.status === 403
        ? 'That key was refused (403 Forbidden). Check it against [auth] api_keys in homebus.toml and try again.'
        : 'That key was not accepted (401 Unauthorized). Check it against [auth] api_keys in homebus.toml and try again.';
    message.hidden = false;
  } else {
    message.hidden = true;
  }
  const input = $('login-key');
  input.value = '';
  input.focus();
}

function unlock() {
  $('login').hidden = true;
  $('dashboard').hidden = false;
  $('forget-key').hidden = !apiKey();
}

async function boot() {
  let states;
  try {
    states = await api('/api/states');
  } catch (error) {
    if (error instanceof AuthError) {
      lock(error);
      return;
    }
    showConnection('offline');
    const why = error instanceof TypeError ? 'Cannot reach the hub' : `The hub answered: ${error.message}`;
    banner(`${why}. Trying again in ${Math.round(bootDelay / 1000)} s…`);
    setTimeout(boot, bootDelay);
    bootDelay = Math.min(bootDelay * 2, BOOT_RETRY_MAX_MS);
    return;
  }
  bootDelay = 1000;
  banner('');
  unlock();
  board.loadSnapshot(states);
  showEmpty();
  stream.start();
  sources.start();
  outputs.start();
  unmatched.start();
  loadHistory();
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const key = $('login-key').value.trim();
  if (!key) return;
  setApiKey(key);
  $('login-error').hidden = true;
  boot();
});

$('forget-key').addEventListener('click', () => {
  setApiKey('');
  location.reload();
});

$('search').addEventListener('input', (event) => {
  board.setFilter({ query: event.target.value });
  showEmpty();
});

boot();
