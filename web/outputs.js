// The outputs panel: where homebus publishes to (the MQTT output), from
// `/api/outputs`, polled; hidden while the hub has no output.

import { h } from './format.js';
import { LinkPanel } from './sources.js';

/** `count` in bold, then what it counts. */
function counted(count, what) {
  return [h('strong', {}, String(count ?? 0)), ` ${what}`];
}

export class OutputsPanel extends LinkPanel {
  constructor(section, list, { onAuthError }) {
    super(list, {
      path: '/api/outputs',
      kind: 'output',
      section,
      onAuthError,
      stats: (output) => [
        h('span', {}, ...counted(output.published, 'published')),
        h('span', {}, ...counted(output.commands, output.commands === 1 ? 'command' : 'commands')),
        output.bad_commands ? h('span', {}, ...counted(output.bad_commands, 'refused')) : null,
      ],
    });
  }
}
