// Line icons for the tiles, drawn for this dashboard (24×24, stroked).

import { svg } from './format.js';

const PATHS = {
  power: ['M12 3v8', 'M6.3 6.8a8 8 0 1 0 11.4 0'],
  bulb: [
    'M9.5 18h5',
    'M10.5 21h3',
    'M12 3a6 6 0 0 0-3.5 10.9c.6.4.9 1.1.9 1.8V16h5.2v-.3c0-.7.3-1.4.9-1.8A6 6 0 0 0 12 3z',
  ],
  thermometer: ['M14 14.6V5.5a2 2 0 1 0-4 0v9.1a4 4 0 1 0 4 0z', 'M12 10v7'],
  droplet: ['M12 3.5s6 6.4 6 10.7a6 6 0 0 1-12 0c0-4.3 6-10.7 6-10.7z'],
  gauge: ['M4.5 17.5a8 8 0 1 1 15 0', 'M12 14.5l3.5-4.5'],
  motion: ['M8 8a5.7 5.7 0 0 0 0 8', 'M16 8a5.7 5.7 0 0 1 0 8', 'M5 5a10 10 0 0 0 0 14', 'M19 5a10 10 0 0 1 0 14', 'M12 12h.01'],
};

/** Picks an icon for a unit from its kind, unit of measure and name. */
export function iconFor(kind, entityId, attributes) {
  const name = `${entityId} ${attributes.friendly_name ?? ''}`.toLowerCase();
  const uom = attributes.unit_of_measurement ?? '';
  if (name.includes('motion') || name.includes('presence')) return icon('motion');
  if (kind === 'dimmer' || entityId.startsWith('light.')) return icon('bulb');
  if (kind === 'switch') return icon('power');
  if (uom.includes('°') || name.includes('temp')) return icon('thermometer');
  if (name.includes('humid')) return icon('droplet');
  return icon('gauge');
}

function icon(name) {
  return svg(
    'svg',
    {
      viewBox: '0 0 24 24',
      width: '22',
      height: '22',
      fill: 'none',
      stroke: 'currentColor',
      'stroke-width': '1.8',
      'stroke-linecap': 'round',
      'stroke-linejoin': 'round',
      'aria-hidden': 'true',
    },
    ...PATHS[name].map((d) => svg('path', { d })),
  );
}
