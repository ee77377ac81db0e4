// The real Home Assistant client library, home-assistant-js-websocket from
// npm (what HA's own frontend uses), against the real homebus binary's
// /api/websocket, with the `ws` package as its WebSocket under Node.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  callService,
  createConnection,
  createLongLivedTokenAuth,
  getConfig,
  getServices,
  getStates,
  subscribeEntities,
} from 'home-assistant-js-websocket';
import WebSocket from 'ws';

import { Hub, until } from '../browser/support.mjs';

// The library opens its sockets with the global WebSocket, which Node 20
// does not have: `ws` stands in, as the library's README says to do.
globalThis.WebSocket = WebSocket;

const KEY = 'ha-websocket-test-key';
const KITCHEN = '\n[[unit]]\naddress = "KITCHEN"\nkind = "dimmer"\n';

let hub;
let connection;
/** The latest entities the library's subscribeEntities collection handed us. */
let entities = null;

before(async () => {
  hub = await new Hub({ apiKeys: [KEY], extraConfig: KITCHEN }).start();
  const auth = createLongLivedTokenAuth(hub.base, KEY);
  connection = await createConnection({ auth });
  subscribeEntities(connection, (latest) => {
    entities = latest;
  });
});

after(async () => {
  connection?.close();
  await hub?.stop();
});

test('subscribeEntities sees the initial states, then a change made through REST', async () => {
  const initial = await until('the initial entities', () => entities?.['light.kitchen']);
  assert.equal(initial.state, 'unknown');
  assert.equal(initial.attributes.kind, 'dimmer');
  await hub.api('/api/units/KITCHEN/command', { method: 'POST', body: { command: 'set', value: 30 } });
  const changed = await until('the REST change', () => {
    const kitchen = entities['light.kitchen'];
    return kitchen.attributes.value === 30 && kitchen;
  });
  assert.equal(changed.state, 'on');
  assert.ok(changed.last_changed, 'the library rebuilt last_changed from lc');
  assert.ok(changed.context.id, 'the library rebuilt context from c');
});

test('callService light.turn_on with brightness_pct changes the unit', async () => {
  const result = await callService(connection, 'light', 'turn_on', { brightness_pct: 50 }, { entity_id: 'light.kitchen' });
  assert.equal(typeof result.context.id, 'string');
  const state = await hub.state('light.kitchen');
  assert.equal(state.state, 'on');
  assert.equal(state.attributes.value, 50);
  await until('the subscribed entity to follow', () => entities['light.kitchen'].attributes.value === 50);
});

test('getStates, getConfig and getServices answer', async () => {
  const states = await getStates(connection);
  assert.ok(states.some((s) => s.entity_id === 'light.kitchen' && s.context && s.last_updated));
  const config = await getConfig(connection);
  assert.equal(config.state, 'RUNNING');
  assert.ok(config.components.includes('light'));
  assert.equal(typeof config.time_zone, 'string');
  const services = await getServices(connection);
  assert.ok(services.light.turn_on.fields.brightness_pct);
  assert.ok(services.homeassistant.toggle);
});

test('a wrong token is refused by the library as invalid auth', async () => {
  const auth = createLongLivedTokenAuth(hub.base, 'not-the-key');
  await assert.rejects(createConnection({ auth }), (error) => error === 2 /* ERR_INVALID_AUTH */);
});

test('after the hub restarts, the client reconnects, re-subscribes and sees new changes', async () => {
  const reconnected = new Promise((resolve) => connection.addEventListener('ready', resolve));
  await hub.kill();
  await hub.start();
  await reconnected;
  await hub.api('/api/units/KITCHEN/command', { method: 'POST', body: { command: 'set', value: 77 } });
  await until('the change after the restart', () => entities['light.kitchen'].attributes.value === 77);
});
