// Talking to the hub: the API key, fetch with the key as a header, and
// stream URLs with the key in the query (EventSource cannot set headers).

const KEY_STORAGE = 'homebus.apiKey';

/** The hub refused our credentials (401 or 403). */
export class AuthError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The hub answered with another error status. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function apiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || '';
  } catch {
    return '';
  }
}

export function setApiKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Private mode without storage: the key lives as long as the page.
  }
}

/** `path` with the key as `api_password`, for EventSource. */
export function withKey(path) {
  const key = apiKey();
  if (!key) return path;
  const joiner = path.includes('?') ? '&' : '?';
  return `${path}${joiner}api_password=${encodeURIComponent(key)}`;
}

async function errorText(response) {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    return body.message || body.error || text;
  } catch {
    return text || response.statusText;
  }
}

/**
 * Calls the API and returns the parsed JSON body. Throws AuthError on 401
 * and 403, ApiError on other error statuses, and TypeError when the hub
 * cannot be reached.
 */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 || response.status === 403) {
    throw new AuthError(response.status, await errorText(response));
  }
  if (!response.ok) {
    throw new ApiError(response.status, await errorText(response));
  }
  return response.json();
}
