// The live stream: one EventSource on /api/stream, with a status the page
// shows (connecting / live / reconnecting / offline).
//
// While the browser's EventSource reconnects by itself it sends
// Last-Event-ID, so the hub replays what we missed. When it gives up (the
// hub answered with an error status) we open a new one after a back-off and
// reload the states, since a new EventSource starts without an ID.

import { withKey } from './api.js';

/** After this long without a connection, "reconnecting" becomes "offline". */
const OFFLINE_AFTER_MS = 15000;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 15000;

export class LiveStream {
  /**
   * @param {object} handlers
   * @param {(state: object|null, entityId: string) => void} handlers.onChange
   * @param {(reconnected: boolean) => void} handlers.onOpen
   * @param {() => void} handlers.onReset   the hub no longer holds what we missed
   * @param {(status: string) => void} handlers.onStatus
   * @param {() => Promise<boolean>} handlers.mayRetry   false stops retrying (e.g. the key was refused)
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.source = null;
    this.opens = 0;
    this.retryDelay = RETRY_MIN_MS;
    this.retryTimer = null;
    this.offlineTimer = null;
    this.status = '';
  }

  start() {
    this.stop();
    this.#setStatus('connecting');
    this.#open();
  }

  stop() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.offlineTimer);
    if (this.source) this.source.close();
    this.source = null;
  }

  #setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    clearTimeout(this.offlineTimer);
    if (status === 'reconnecting') {
      this.offlineTimer = setTimeout(() => this.#setStatus('offline'), OFFLINE_AFTER_MS);
    }
    this.handlers.onStatus(status);
  }

  #open() {
    const source = new EventSource(withKey('/api/stream'));
    this.source = source;
    source.onopen = () => {
      this.retryDelay = RETRY_MIN_MS;
      this.#setStatus('live');
      this.handlers.onOpen(this.opens > 0);
      this.opens += 1;
    };
    source.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event && event.event_type === 'state_changed' && event.data) {
        this.handlers.onChange(event.data.new_state ?? null, event.data.entity_id);
      }
    };
    source.addEventListener('reset', () => this.handlers.onReset());
    source.addEventListener('error', (event) => {
      if (source !== this.source) return;
      // `event: error` from the hub (we fell behind) arrives as a MessageEvent;
      // the stream then ends and the browser resumes it like any drop.
      if (event instanceof MessageEvent) return;
      if (source.readyState === EventSource.CONNECTING) {
        if (this.status !== 'offline') this.#setStatus('reconnecting');
        return;
      }
      this.#setStatus('offline');
      this.#retryLater();
    });
  }

  #retryLater() {
    clearTimeout(this.retryTimer);
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(async () => {
      if (await this.handlers.mayRetry()) this.#open();
    }, delay);
  }
}
