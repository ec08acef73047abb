// The openframe API as the signed-in user sees it. The credentials live in this object only (never in
// storage); every request sends them as a Basic Authorization header with `credentials: 'omit'`, so the
// browser neither adds cookies nor shows its own password prompt on a 401.

/** Fields the list shows. */
export const LIST_FIELDS = [
  'sys_id', 'number', 'state', 'short_description', 'user_phone_number', 'caller_phone_number',
  'assigned_to', 'sys_updated_on',
];

/** The Table API's operand for "the signed-in user" (resolved by the server). */
export const ME = 'javascript:gs.getUserID()';

/** How many interactions the list holds. */
const LIST_LIMIT = 200;

/** A failed request: the HTTP status and the error envelope's detail. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Base64 of UTF-8 text (btoa alone takes Latin-1 only). */
export function base64Utf8(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** What a sign-in failure means for the person at the keyboard. */
export function signInMessage(error) {
  switch (error.status) {
    case 401: return 'User name or password is wrong.';
    case 403: return 'This user may not use the openframe API.';
    case 429: return 'Too many failed sign-ins; wait a minute and try again.';
    default: return `Sign-in failed: ${error.message}`;
  }
}

export class Api {
  #authorization;

  constructor(userName, password) {
    this.userName = userName;
    this.#authorization = `Basic ${base64Utf8(`${userName}:${password}`)}`;
  }

  /** The Authorization header value, for the event stream. */
  get authorization() {
    return this.#authorization;
  }

  /** Checks the credentials with a real, cheap API call; throws an ApiError on 401/403/429. */
  async checkSignIn() {
    await this.getResult('/api/now/table/interaction', { sysparm_limit: '1', sysparm_fields: 'sys_id' });
  }

  /**
   * The interactions the list shows: "mine" (assigned to the caller) or all, newest first; with `sysId`,
   * just that one if it belongs in the list (an empty array if not).
   */
  async listInteractions(scope, sysId = null) {
    const conditions = [];
    if (sysId) conditions.push(`sys_id=${sysId}`);
    if (scope === 'mine') conditions.push(`assigned_to=${ME}`);
    conditions.push('ORDERBYDESCnumber');
    return this.getResult('/api/now/table/interaction', {
      sysparm_query: conditions.join('^'),
      sysparm_fields: LIST_FIELDS.join(','),
      sysparm_exclude_reference_link: 'true',
      sysparm_limit: String(LIST_LIMIT),
    });
  }

  /** The whole interaction: fields, context, phone logs, related records. */
  async readInteraction(sysId) {
    return this.getResult(`/api/now/openframe/voice-interaction/${encodeURIComponent(sysId)}`);
  }

  /** GET `path` and return the envelope's `result`. */
  async getResult(path, params = {}) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    const response = await fetch(url, {
      headers: { Authorization: this.#authorization, Accept: 'application/json' },
      credentials: 'omit',
      cache: 'no-store',
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const detail = body?.error?.detail || body?.error?.message || response.statusText;
      throw new ApiError(response.status, detail);
    }
    return body?.result;
  }
}
