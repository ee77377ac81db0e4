// Reading `/api/history` answers into sparkline points.

import { parseTime } from './format.js';

/** Turns a `/api/history` answer of any usual shape into `[time, value]` points. */
export function historyPoints(body) {
  const rows = [];
  const walk = (item) => {
    if (Array.isArray(item)) item.forEach(walk);
    else if (item && typeof item === 'object') {
      if ('state' in item || 'value' in item) rows.push(item);
      else Object.values(item).forEach(walk);
    }
  };
  walk(body);
  return rows
    .map((row) => {
      const time = parseTime(row.last_updated ?? row.last_changed ?? row.time ?? row.timestamp);
      const raw = row.attributes?.value ?? row.value ?? row.state;
      const value = typeof raw === 'number' ? raw : raw === '' || raw === null ? NaN : Number(raw);
      return [time, value];
    })
    .filter(([time, value]) => time && Number.isFinite(value))
    .sort((a, b) => a[0] - b[0]);
}
