// A unit's last script error on its dashboard tile, in a real headless
// chromium against the real homebus binary: a unit whose On script throws
// shows the error's reason (`attributes.script_error.reason`) after an On
// command, loses it after a good Off run, and a unit whose script works
// shows none.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { DEADLINE_MS, Hub, launchBrowser, openPage, screenshot, until } from './support.mjs';

const WAIT = { timeout: DEADLINE_MS };

const tile = (entityId) => `.tile[data-entity="${entityId}"]`;

const SCRIPTED_UNITS = `
[[unit]]
address = "Broken"
name = "Broken lamp"
kind = "switch"
on_script = 'throw "boom: the lamp failed: it is unplugged"'
off_script = 'log("broken lamp off")'

[[unit]]
address = "Working"
name = "Working lamp"
kind = "switch"
on_script = 'log("working lamp on")'

[[unit]]
address = "Plain"
name = "Plain lamp"
kind = "switch"
`;

describe('script errors on the tiles', () => {
  let hub;
  let browser;
  let page;

  before(async () => {
    hub = await new Hub({ extraConfig: SCRIPTED_UNITS }).start();
    browser = await launchBrowser();
    page = await openPage(browser, `${hub.base}/`);
    await page.locator(tile('switch.broken')).waitFor(WAIT);
    await page.locator(tile('switch.working')).waitFor(WAIT);
  });

  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  const errorLine = (entityId) => page.locator(`${tile(entityId)} .tile-error`);

  test('no tile shows a script error before any script ran', async () => {
    assert.equal(await page.locator('.tile-error:not([hidden])').count(), 0);
    assert.equal(await errorLine('switch.broken').isVisible(), false);
  });

  test('an On script that throws shows its reason on the unit tile, the script and its place in the tooltip', async () => {
    await hub.api('/api/units/Broken/command', { method: 'POST', body: { command: 'on' } });
    const error = await until('the hub to record the script error', async () => {
      const state = await hub.state('switch.broken');
      return state?.attributes?.script_error;
    });
    assert.equal(error.script, 'unit/Broken/on_script');
    assert.match(error.at, /homebus\.toml:\d+:\d+/);
    assert.equal(error.reason, 'Runtime error: boom: the lamp failed: it is unplugged');
    const line = errorLine('switch.broken');
    await line.waitFor({ state: 'visible', ...WAIT });
    // The whole reason, though it holds the words the hub's log line puts between place and reason.
    assert.equal(await line.locator('.tile-error-text').textContent(), error.reason);
    assert.equal(await line.getAttribute('title'), `unit/Broken/on_script at ${error.at}: ${error.reason}`);
    assert.equal(await page.locator(tile('switch.broken')).getAttribute('data-state'), 'on');
    await screenshot(page, 'tile-script-error');
  });

  test('a unit whose script runs well shows no error', async () => {
    await hub.api('/api/units/Working/command', { method: 'POST', body: { command: 'on' } });
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.state === 'on', tile('switch.working'), WAIT);
    const state = await hub.state('switch.working');
    assert.ok(!state.attributes.script_error, `script_error: ${state.attributes.script_error}`);
    assert.equal(await errorLine('switch.working').isVisible(), false);
    assert.equal(await errorLine('switch.working').locator('.tile-error-text').textContent(), '');
  });

  test('a script error in plain text, as an older hub stored it, shows whole', async () => {
    const text = '/etc/homebus.toml:3:1: `on_script` of unit Plain failed: Runtime error: x';
    const set = (scriptError) =>
      hub.api('/api/states/switch.plain', { method: 'POST', body: { state: 'off', attributes: { script_error: scriptError } } });
    await set(text);
    const line = errorLine('switch.plain');
    await line.waitFor({ state: 'visible', ...WAIT });
    assert.equal(await line.locator('.tile-error-text').textContent(), text);
    assert.equal(await line.getAttribute('title'), text);
    await set(null);
    await line.waitFor({ state: 'hidden', ...WAIT });
  });

  test('the next good run of the unit clears the error from the tile', async () => {
    await hub.api('/api/units/Broken/command', { method: 'POST', body: { command: 'off' } });
    await errorLine('switch.broken').waitFor({ state: 'hidden', ...WAIT });
    assert.equal(await errorLine('switch.broken').getAttribute('title'), '');
    assert.equal((await hub.state('switch.broken')).attributes.script_error ?? null, null);
    assert.equal(await page.locator('.tile.has-script-error').count(), 0);
  });

  test('the page reported no script errors of its own', () => {
    assert.deepEqual(page.errors, []);
  });
});
