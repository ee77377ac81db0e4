// Small text helpers shared by the tiles and the sources panel.

/** "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function ago(time, now = Date.now()) {
  if (!time) return 'never';
  const seconds = Math.max(0, Math.round((now - time) / 1000));
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** Milliseconds since the epoch, or 0 for a missing or bad time. */
export function parseTime(text) {
  const time = text ? Date.parse(text) : NaN;
  return Number.isNaN(time) ? 0 : time;
}

/**
 * A number as people read it, in their locale: at least `decimals`
 * decimals (so a reading does not jump between `21` and `21.3`), at most
 * two unless more are asked for.
 */
export function formatNumber(value, decimals = 0) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return String(value ?? '');
  return value.toLocaleString(undefined, {
    minimumFractionDigits: decimals,
    maximumFractionDigits: Math.max(decimals, 2),
  });
}

/** How many decimals a reading was written with (`"21.30"` → 2), at most 3. */
export function decimalsOf(text) {
  const match = /\.(\d+)$/.exec(String(text ?? ''));
  return match ? Math.min(3, match[1].length) : 0;
}

/** Creates an element with attributes and children. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'class') element.className = value;
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';

/** Creates an SVG element with attributes. */
export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}
