// The dashboard in a real headless chromium against the real homebus
// binary running `--demo`: live updates, commands, restart, auth, and
// screenshots under target/screenshots/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { DEADLINE_MS, Hub, freePort, launchBrowser, openPage, screenshot } from './support.mjs';

const WAIT = { timeout: DEADLINE_MS };

const tile = (entityId) => `.tile[data-entity="${entityId}"]`;

async function connection(page) {
  return page.locator('#connection').getAttribute('data-state');
}

async function waitConnection(page, ...states) {
  await page.waitForFunction(
    (wanted) => wanted.includes(document.getElementById('connection').dataset.state),
    states,
    WAIT,
  );
}

describe('dashboard on a demo hub', () => {
  let hub;
  let browser;
  let page;

  before(async () => {
    // A second source that cannot connect: nothing listens on its port.
    const nowhere = await freePort();
    const extraConfig = `\n[[source]]\nname = "garage"\ntype = "sse"\nurl = "http://127.0.0.1:${nowhere}/events"\n`;
    hub = await new Hub({ extraConfig }).start();
    browser = await launchBrowser();
    page = await openPage(browser, `${hub.base}/`);
    await waitConnection(page, 'live');
  });

  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  test('shows a tile per unit with name, entity id and unit of measure', async () => {
    const states = await hub.api('/api/states');
    await page.waitForFunction((n) => document.querySelectorAll('.tile').length === n, states.length, WAIT);
    const temperature = page.locator(tile('sensor.temperature'));
    assert.equal(await temperature.locator('.tile-name').textContent(), 'Temperature');
    assert.equal(await temperature.locator('.tile-entity').textContent(), 'sensor.temperature');
    assert.equal(await temperature.locator('.uom').textContent(), '°C');
    assert.match(await temperature.locator('.since').textContent(), /^changed /);
  });

  test('a sensor tile changes without a reload', async () => {
    const value = page.locator(`${tile('sensor.temperature')} .value`);
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent !== '', `${tile('sensor.temperature')} .value`, WAIT);
    const first = await value.textContent();
    await page.evaluate(() => {
      window.sameDocument = true;
    });
    await page.waitForFunction(
      ([sel, old]) => document.querySelector(sel).textContent !== old,
      [`${tile('sensor.temperature')} .value`, first],
      WAIT,
    );
    assert.equal(await page.evaluate(() => window.sameDocument), true, 'the page was not reloaded');
  });

  test('a sensor sparkline grows from the live stream', async () => {
    await page.waitForFunction(
      (sel) => Number(document.querySelector(sel).dataset.points) >= 3,
      tile('sensor.humidity'),
      WAIT,
    );
    const points = await page.locator(`${tile('sensor.humidity')} .spark-line`).getAttribute('points');
    assert.ok(points.split(' ').length >= 3, `sparkline points: ${points}`);
  });

  test('clicking a switch changes it on the page and in /api/states', async () => {
    const porch = page.locator(tile('switch.porch_light'));
    const before = await porch.getAttribute('data-state');
    const wanted = before === 'on' ? 'off' : 'on';
    await porch.locator('.toggle').click();
    await page.waitForFunction(
      ([sel, state]) => document.querySelector(sel).dataset.state === state,
      [tile('switch.porch_light'), wanted],
      WAIT,
    );
    assert.equal(await porch.locator('.toggle').getAttribute('aria-checked'), String(wanted === 'on'));
    assert.equal((await hub.state('switch.porch_light')).state, wanted);
  });

  test('moving a dimmer slider sets its value', async () => {
    const slider = page.locator(`${tile('light.living_room')} .slider`);
    await slider.fill('25');
    await page.waitForFunction(
      (sel) => document.querySelector(sel).textContent === '25',
      `${tile('light.living_room')} .value`,
      WAIT,
    );
    const light = await hub.state('light.living_room');
    assert.equal(light.attributes.value, 25);
    assert.equal(light.state, 'on');
  });

  test('a change made elsewhere reaches the page and flashes the tile', async () => {
    const fan = page.locator(tile('switch.kitchen_fan'));
    const wanted = (await fan.getAttribute('data-state')) === 'on' ? 'off' : 'on';
    await hub.api('/api/units/KitchenFan/command', { method: 'POST', body: { command: wanted } });
    await page.waitForFunction(
      ([sel, state]) => {
        const element = document.querySelector(sel);
        return element.dataset.state === state && element.classList.contains('flash');
      },
      [tile('switch.kitchen_fan'), wanted],
      WAIT,
    );
  });

  test('filters by domain and searches by name', async () => {
    const visible = () =>
      page.evaluate(() => [...document.querySelectorAll('.tile:not([hidden])')].map((t) => t.dataset.entity).sort());
    await page.locator('.chip[data-domain="sensor"]').click();
    assert.deepEqual(await visible(), ['sensor.humidity', 'sensor.temperature']);
    await page.locator('#search').fill('humid');
    assert.deepEqual(await visible(), ['sensor.humidity']);
    await page.locator('.chip[data-domain=""]').click();
    await page.locator('#search').fill('porch');
    assert.deepEqual(await visible(), ['switch.porch_light']);
    await page.locator('#search').fill('');
    await page.locator('#search').blur();
    assert.equal((await visible()).length, await page.locator('.tile').count());
  });

  test('the sources panel shows the demo source connected with its events', async () => {
    const demo = page.locator('.source[data-source="demo"]');
    await demo.waitFor(WAIT);
    assert.equal(await demo.locator('.pill').textContent(), 'connected');
    await page.waitForFunction(
      () => Number(document.querySelector('.source[data-source="demo"] strong')?.textContent) > 0,
      null,
      WAIT,
    );
  });

  test('the sources panel shows a failing source reconnecting, with its error', async () => {
    await page.waitForFunction(
      () => {
        const garage = document.querySelector('.source[data-source="garage"]');
        return (
          garage &&
          /^reconnecting in \d+ s$/.test(garage.querySelector('.pill').textContent) &&
          garage.querySelector('.source-error')?.textContent.length > 0
        );
      },
      null,
      WAIT,
    );
    const error = await page.locator('.source[data-source="garage"] .source-error').textContent();
    const api = (await hub.api('/api/sources')).find((s) => s.name === 'garage');
    assert.equal(error, api.last_error);
  });

  test('screenshots at desktop and phone width, light and dark', async () => {
    // Let the sparklines gather a few points so the pictures show them.
    await page.waitForFunction(
      (sel) => Number(document.querySelector(sel).dataset.points) >= 5,
      tile('sensor.temperature'),
      WAIT,
    );
    await screenshot(page, 'dashboard-desktop');
    for (const [name, options] of [
      ['dashboard-phone', { viewport: { width: 390, height: 844 }, colorScheme: 'light' }],
      ['dashboard-desktop-dark', { viewport: { width: 1280, height: 800 }, colorScheme: 'dark' }],
      ['dashboard-phone-dark', { viewport: { width: 390, height: 844 }, colorScheme: 'dark' }],
    ]) {
      const other = await openPage(browser, `${hub.base}/`, options);
      await waitConnection(other, 'live');
      await other.waitForFunction(
        (sel) => Number(document.querySelector(sel)?.dataset.points) >= 3,
        tile('sensor.temperature'),
        WAIT,
      );
      const width = await other.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= options.viewport.width, `${name}: the page is ${width} px wide, wider than the screen`);
      await screenshot(other, name);
      assert.deepEqual(other.errors, []);
      await other.context().close();
    }
  });

  test('after a hub restart the indicator goes to reconnecting, then back to live', async () => {
    await hub.api('/api/units/PorchLight/command', { method: 'POST', body: { command: 'on' } });
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.state === 'on', tile('switch.porch_light'), WAIT);
    assert.equal(await connection(page), 'live');
    await hub.kill();
    await waitConnection(page, 'reconnecting');
    await screenshot(page, 'dashboard-reconnecting');
    await hub.start();
    await waitConnection(page, 'live');
    // The new hub starts its demo with the porch light off: the page shows
    // the hub as it is now, not as it was before the restart.
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.state === 'off', tile('switch.porch_light'), WAIT);
    // And it follows the new hub live.
    const value = `${tile('sensor.temperature')} .value`;
    const first = await page.locator(value).textContent();
    await page.waitForFunction(([sel, old]) => document.querySelector(sel).textContent !== old, [value, first], WAIT);
    assert.deepEqual(page.errors, []);
  });
});

describe('dashboard on a hub with [auth]', () => {
  const KEY = 'correct-horse-battery-staple';
  let hub;
  let browser;

  before(async () => {
    hub = await new Hub({ apiKeys: [KEY] }).start();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await hub?.stop();
  });

  test('the page itself is served without a key, the API is not', async () => {
    const page = await fetch(`${hub.base}/`);
    assert.equal(page.status, 200);
    const states = await fetch(`${hub.base}/api/states`);
    assert.equal(states.status, 401);
  });

  test('asks for a key, says clearly when it is wrong, and works with the right one', async () => {
    const page = await openPage(browser, `${hub.base}/`);
    await page.locator('#login-form').waitFor(WAIT);
    assert.equal(await connection(page), 'locked');
    assert.equal(await page.locator('#login-error').isHidden(), true);

    await page.locator('#login-key').fill('wrong-key');
    await page.locator('#login-form button[type="submit"]').click();
    const error = page.locator('#login-error');
    await error.waitFor(WAIT);
    assert.match(await error.textContent(), /not accepted/);
    assert.equal(await page.evaluate(() => localStorage.getItem('homebus.apiKey')), null);
    await screenshot(page, 'dashboard-wrong-key');

    await page.locator('#login-key').fill(KEY);
    await page.locator('#login-form button[type="submit"]').click();
    await waitConnection(page, 'live');
    await page.locator(tile('sensor.temperature')).waitFor(WAIT);
    assert.equal(await page.locator('#login').isHidden(), true);
    assert.equal(await page.evaluate(() => localStorage.getItem('homebus.apiKey')), KEY);

    // The stream carries the key in the query, since EventSource cannot send headers.
    const value = `${tile('sensor.temperature')} .value`;
    const first = await page.locator(value).textContent();
    await page.waitForFunction(([sel, old]) => document.querySelector(sel).textContent !== old, [value, first], WAIT);

    // A reload keeps the key.
    await page.reload();
    await waitConnection(page, 'live');
    assert.equal(await page.locator('#login').isHidden(), true);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
});
