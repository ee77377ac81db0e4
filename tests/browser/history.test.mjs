// The dashboard's reading of `/api/history`, in Node: the module is the
// one the page loads.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { historyPoints } from '../../web/history.js';

const row = (state, time, value) => ({
  entity_id: 'sensor.temperature',
  state,
  attributes: value === undefined ? {} : { value },
  last_changed: time,
  last_updated: time,
});

test('the store answer, one list per entity, becomes time-ordered points', () => {
  const body = [[row('21.5', '2026-11-22T10:00:01.000000+00:00', 21.5), row('21', '2026-11-22T10:00:00.000000+00:00', 21)]];
  assert.deepEqual(historyPoints(body), [
    [Date.parse('2026-11-22T10:00:00Z'), 21],
    [Date.parse('2026-11-22T10:00:01Z'), 21.5],
  ]);
});

test('a state without attributes.value is read from the state text', () => {
  const body = [[row('47.5', '2026-11-22T10:00:00.000000+00:00')]];
  assert.deepEqual(historyPoints(body), [[Date.parse('2026-11-22T10:00:00Z'), 47.5]]);
});

test('unknown and text states are left out', () => {
  const body = [[row('unknown', '2026-11-22T10:00:00.000000+00:00'), row('', '2026-11-22T10:00:01.000000+00:00'), row('open', '2026-11-22T10:00:02.000000+00:00')]];
  assert.deepEqual(historyPoints(body), []);
});

test('an empty answer gives no points', () => {
  assert.deepEqual(historyPoints([]), []);
  assert.deepEqual(historyPoints([[]]), []);
});
