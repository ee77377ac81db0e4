// Fixtures for the browser tests: a real homebus hub on a free loopback
// port, Debian's chromium driven by playwright-core, and waiting for
// conditions with a deadline instead of sleeping.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const SCREENSHOTS = join(ROOT, 'target', 'screenshots');
export const HOMEBUS = process.env.HOMEBUS_BIN || join(ROOT, 'target', 'debug', 'homebus');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

/** The usual deadline: generous, since CI machines are slow and shared. */
export const DEADLINE_MS = 20000;

/** Keeps the last part of a child's log, for failure messages. */
const LOG_LIMIT = 64 * 1024;

/** A free TCP port on 127.0.0.1: bind port 0, read it, close. */
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls `check` every 50 ms until it returns a truthy value, or throws after `timeout`. */
export async function until(what, check, timeout = DEADLINE_MS) {
  const deadline = Date.now() + timeout;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
}

/**
 * A homebus hub run from the real binary with `--demo`, on `port` (a free
 * one by default). `apiKeys` turns `[auth]` on; `extraConfig` is appended
 * to the config file.
 */
export class Hub {
  constructor({ port, apiKeys, extraConfig = '' } = {}) {
    this.port = port;
    this.apiKeys = apiKeys;
    this.extraConfig = extraConfig;
    this.child = null;
    this.log = '';
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    if (!existsSync(HOMEBUS)) {
      throw new Error(`${HOMEBUS} does not exist; build it first with \`cargo build\``);
    }
    this.port ??= await freePort();
    this.dir ??= await mkdtemp(join(tmpdir(), 'homebus-browser-'));
    const config = join(this.dir, 'homebus.toml');
    let text = `[server]\nlisten = "127.0.0.1:${this.port}"\nwebsocket_port = 0\ndatabase = ":memory:"\n`;
    if (this.apiKeys) text += `\n[auth]\napi_keys = ${JSON.stringify(this.apiKeys)}\n`;
    text += this.extraConfig;
    await writeFile(config, text);
    this.log = '';
    this.child = spawn(HOMEBUS, ['run', '--demo', '-c', config], {
      cwd: this.dir,
      env: { ...process.env, RUST_LOG: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk) => {
      this.log = (this.log + chunk).slice(-LOG_LIMIT);
    });
    const exited = once(this.child, 'exit').then(([code]) => {
      throw new Error(`homebus exited with ${code} at start:\n${this.log}`);
    });
    const ready = until(`homebus to answer on ${this.base}`, async () => {
      const response = await fetch(`${this.base}/api/states`, { headers: this.#authHeaders() });
      return response.status === 200;
    });
    await Promise.race([ready, exited]);
    exited.catch(() => {});
    return this;
  }

  /** Kills the hub at once, as a crash or a power cut would. */
  async kill() {
    if (!this.child || this.child.exitCode !== null) return;
    const exit = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exit;
  }

  async stop() {
    await this.kill();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  #authHeaders() {
    return this.apiKeys ? { Authorization: `Bearer ${this.apiKeys[0]}` } : {};
  }

  /** GET or POST on the API as a script would, with the key when there is one. */
  async api(path, { method = 'GET', body } = {}) {
    const headers = { ...this.#authHeaders() };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  }

  async state(entityId) {
    const states = await this.api('/api/states');
    return states.find((s) => s.entity_id === entityId);
  }
}

/** Debian's chromium, headless, with the flags this machine needs, and a fresh profile. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} does not exist; install Debian's chromium (scripts/test does)`);
  }
  // launch() starts chromium on a new, empty temporary profile of its own.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A page that fails the test on any script error it reports. */
export async function openPage(browser, url, { viewport = { width: 1280, height: 800 }, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(error.message));
  await page.goto(url);
  return page;
}

export async function screenshot(page, name) {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
