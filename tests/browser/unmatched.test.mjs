// The unmatched events panel in a real headless chromium against the real
// homebus binary: hidden while every event has a unit, then showing an event
// from a real SSE source with no unit, with its count and the [[unit]]
// section to add.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { DEADLINE_MS, Hub, launchBrowser, openPage, screenshot, until } from './support.mjs';

const WAIT = { timeout: DEADLINE_MS };

/** An SSE server on a free loopback port that sends events only when told to. */
async function eventServer() {
  const clients = new Set();
  const server = createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    response.flushHeaders();
    clients.add(response);
    request.on('close', () => clients.delete(response));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}/events`,
    clients,
    send(name, data) {
      for (const client of clients) client.write(`event: ${name}\ndata: ${data}\n\n`);
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('unmatched events panel', () => {
  let upstream;
  let hub;
  let browser;
  let page;

  before(async () => {
    upstream = await eventServer();
    const extraConfig = `\n[[source]]\nname = "porch"\ntype = "sse"\nurl = "${upstream.url}"\n`;
    hub = await new Hub({ apiKeys: ['browser-key'], extraConfig }).start();
    browser = await launchBrowser();
    page = await openPage(browser, `${hub.base}/`);
    await page.fill('#login-key', 'browser-key');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#unmatched[data-loaded]', { state: 'attached', ...WAIT });
  });

  after(async () => {
    await browser?.close();
    await hub?.stop();
    await upstream?.close();
  });

  test('is hidden while every event has a unit', async () => {
    assert.equal(await page.locator('#unmatched').isHidden(), true);
  });

  test('shows an event no unit took, with its source, count, data and the [[unit]] to add', async () => {
    await until('the porch source to connect', () => upstream.clients.size > 0);
    upstream.send('porch_temperature', '21.5');
    upstream.send('porch_temperature', '22,5');
    const item = page.locator('.unmatched[data-name="porch_temperature"]');
    await item.waitFor(WAIT);
    assert.equal(await page.locator('#unmatched').isVisible(), true);
    assert.equal(await item.getAttribute('data-source'), 'porch');
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent === '2',
      '.unmatched[data-name="porch_temperature"] .source-stats strong',
      WAIT,
    );
    assert.equal(await item.locator('.unmatched-data').textContent(), '22,5');
    assert.equal(
      await item.locator('.unmatched-suggestion').textContent(),
      '[[unit]]\naddress = "porch_temperature"\nkind = "sensor"',
    );
    assert.match(await item.locator('.unmatched-alternative').textContent(), /create_units = true in \[\[source\]\] "porch"/);
    assert.deepEqual(page.errors, []);
    await screenshot(page, 'unmatched-events');
  });
});
