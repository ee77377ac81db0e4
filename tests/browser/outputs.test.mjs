// The outputs panel in a real headless chromium against the real homebus
// binary: hidden on a hub without an output; on a hub with `[mqtt_out]`
// pointing at a real mosquitto (Debian's, started here on a free loopback
// port), it shows the MQTT output connected, with its publish counter.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DEADLINE_MS, Hub, freePort, launchBrowser, openPage, screenshot, until } from './support.mjs';

const WAIT = { timeout: DEADLINE_MS };
const MOSQUITTO = process.env.MOSQUITTO_BIN || '/usr/sbin/mosquitto';

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port) {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/** A real mosquitto 2 on a free loopback port with anonymous access. */
async function startMosquitto() {
  if (!existsSync(MOSQUITTO)) {
    throw new Error(`${MOSQUITTO} does not exist; install Debian's mosquitto (scripts/test does)`);
  }
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'homebus-mosquitto-'));
  const config = join(dir, 'mosquitto.conf');
  await writeFile(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const child = spawn(MOSQUITTO, ['-c', config], { stdio: 'ignore' });
  await until(`mosquitto to listen on port ${port}`, () => listening(port));
  return {
    port,
    async stop() {
      if (child.exitCode === null) {
        const exit = once(child, 'exit');
        child.kill('SIGKILL');
        await exit;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('outputs panel', () => {
  let broker;
  let plain;
  let hub;
  let browser;

  before(async () => {
    broker = await startMosquitto();
    plain = await new Hub().start();
    hub = await new Hub({ extraConfig: `\n[mqtt_out]\nurl = "mqtt://127.0.0.1:${broker.port}"\n` }).start();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await hub?.stop();
    await plain?.stop();
    await broker?.stop();
  });

  test('is hidden on a hub without an output', async () => {
    const page = await openPage(browser, `${plain.base}/`);
    await page.waitForSelector('.source[data-source="demo"]', WAIT);
    assert.deepEqual(await plain.api('/api/outputs'), []);
    assert.equal(await page.locator('#outputs-panel').isHidden(), true);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('shows the MQTT output connected to its broker, with what it published', async () => {
    const page = await openPage(browser, `${hub.base}/`);
    const output = page.locator('.source[data-output="mqtt_out"]');
    await output.waitFor(WAIT);
    assert.equal(await page.locator('#outputs-panel').isVisible(), true);
    await page.waitForSelector('.source[data-output="mqtt_out"][data-state="connected"]', WAIT);
    assert.equal(await output.locator('.pill').textContent(), 'connected');
    assert.equal(await output.locator('.source-url').textContent(), `mqtt://127.0.0.1:${broker.port}`);
    // The demo units change on their own: the counter follows the hub's.
    await page.waitForFunction(
      () => Number(document.querySelector('.source[data-output="mqtt_out"] strong')?.textContent) > 0,
      null,
      WAIT,
    );
    const [api] = await hub.api('/api/outputs');
    assert.equal(api.state, 'connected');
    assert.ok(api.published > 0);
    await screenshot(page, 'outputs-panel');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
});
