// The agent workspace: sign in, choose "my interactions" or all, and watch the list and the selected
// interaction follow the event stream. It reads only through the API: the Table API for the list, the
// voice-interaction endpoint for the detail, and /api/now/openframe/events for changes.

import { Api, signInMessage } from './api.js';
import { EventStream } from './sse.js';
import { detailView, el, listRow } from './view.js';

const EVENTS_PATH = '/api/now/openframe/events';
const STATUS_TEXT = {
  off: 'offline', connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…',
  denied: 'access denied', stopped: 'offline',
};

/** The event stream's event names this page follows. */
const INTERACTION_EVENTS = ['interaction.created', 'interaction.updated', 'interaction.deleted'];

const $ = (id) => document.getElementById(id);

/** Everything of one signed-in session; dropped whole on sign-out, credentials included. */
class Workspace {
  constructor(api) {
    this.api = api;
    this.scope = document.querySelector('input[name="scope"]:checked')?.value ?? 'mine';
    /** sys_id → list row (Table API fields). */
    this.rows = new Map();
    this.selected = null;
    this.stream = null;
    // Each read gets a ticket; an answer is used only if no newer read of the same thing was started,
    // so a slow answer never overwrites a newer one.
    this.tickets = new Map();
    /** While the whole list is being read: the interactions that changed meanwhile, re-read after it. */
    this.changedDuringLoad = null;
    /** sys_ids of interactions deleted while this session watched: never shown again. */
    this.deleted = new Set();
  }

  start() {
    this.connect();
  }

  stop() {
    this.stream?.stop();
    this.stream = null;
  }

  setScope(scope) {
    this.scope = scope;
    this.rows.clear();
    this.renderList();
    this.connect();
  }

  /** (Re)subscribes for the current scope; the list is (re)read once the stream is live, so no change is missed. */
  connect() {
    this.stop();
    const url = new URL(EVENTS_PATH, window.location.origin);
    if (this.scope === 'mine') url.searchParams.set('assigned_to', 'me');
    let loaded = false;
    const stream = new EventStream({
      url,
      authorization: this.api.authorization,
      onEvent: (event) => this.onEvent(event),
      onStatus: (status) => {
        showStreamStatus(status);
        // Read the list once the stream is live, so nothing changes unseen in between; again whenever the
        // stream reconnects with no event id to resume from. If the stream cannot connect at all, show the
        // list anyway (it then updates only when the stream comes back).
        if (status === 'live' && (!loaded || stream.lastEventId === null)) {
          loaded = true;
          this.reloadAll();
        } else if (status === 'reconnecting' && !loaded) {
          loaded = true;
          this.reloadAll();
        }
      },
    });
    this.stream = stream;
    this.stream.start();
  }

  onEvent(event) {
    if (event.type === 'reset') {
      this.reloadAll();
      return;
    }
    if (!INTERACTION_EVENTS.includes(event.type)) return;
    let change;
    try {
      change = JSON.parse(event.data);
    } catch {
      console.warn('event stream: an event whose data is not JSON');
      return;
    }
    if (typeof change.sysId !== 'string') return;
    if (event.type === 'interaction.deleted') {
      this.forget(change.sysId);
      return;
    }
    this.changedDuringLoad?.add(change.sysId);
    this.refreshRow(change.sysId);
    if (change.sysId === this.selected) this.loadDetail(change.sysId);
  }

  /** Drops a deleted interaction from the list, and from the detail pane if it is shown there. */
  forget(sysId) {
    // A list read under way may still hold it, and a row read under way may put it back: neither is used.
    this.changedDuringLoad?.delete(sysId);
    this.ticket(`row:${sysId}`);
    this.deleted.add(sysId);
    this.rows.delete(sysId);
    if (this.selected === sysId) {
      this.selected = null;
      this.ticket('detail');
      $('detail').replaceChildren(el('p', 'muted', 'The interaction was deleted.'));
    }
    this.renderList();
  }

  async reloadAll() {
    const ticket = this.ticket('list');
    const changed = new Set();
    this.changedDuringLoad = changed;
    try {
      const rows = await this.api.listInteractions(this.scope);
      if (!this.current('list', ticket)) return;
      this.rows = new Map(rows.filter((row) => !this.deleted.has(row.sys_id)).map((row) => [row.sys_id, row]));
      showError('list-error', null);
    } catch (error) {
      if (!this.current('list', ticket)) return;
      showError('list-error', `The list could not be read: ${error.message}`);
    }
    this.changedDuringLoad = null;
    this.renderList();
    // The list's answer may predate these changes: read them again.
    for (const sysId of changed) this.refreshRow(sysId);
    if (this.selected) this.loadDetail(this.selected);
  }

  /** Re-reads one row through the list's own query: it stays, appears or goes as the scope says. */
  async refreshRow(sysId) {
    const ticket = this.ticket(`row:${sysId}`);
    try {
      const [row] = await this.api.listInteractions(this.scope, sysId);
      if (!this.current(`row:${sysId}`, ticket)) return;
      if (row) this.rows.set(sysId, row);
      else this.rows.delete(sysId);
      this.renderList();
    } catch (error) {
      showError('list-error', `An interaction could not be read: ${error.message}`);
    }
  }

  select(sysId) {
    this.selected = sysId;
    this.renderList();
    this.loadDetail(sysId);
  }

  async loadDetail(sysId) {
    const ticket = this.ticket('detail');
    try {
      const result = await this.api.readInteraction(sysId);
      if (!this.current('detail', ticket) || this.selected !== sysId) return;
      $('detail').replaceChildren(detailView(result));
    } catch (error) {
      if (!this.current('detail', ticket)) return;
      $('detail').replaceChildren(el('p', 'error', `The interaction could not be read: ${error.message}`));
    }
  }

  renderList() {
    const rows = [...this.rows.values()].sort((a, b) => (b.number ?? '').localeCompare(a.number ?? ''));
    $('interaction-list').replaceChildren(...rows.map((row) => listRow(row, row.sys_id === this.selected)));
    $('list-empty').hidden = rows.length > 0;
  }

  ticket(key) {
    const next = (this.tickets.get(key) ?? 0) + 1;
    this.tickets.set(key, next);
    return next;
  }

  current(key, ticket) {
    return this.tickets.get(key) === ticket;
  }
}

function showError(id, message) {
  const node = $(id);
  node.textContent = message ?? '';
  node.hidden = !message;
}

function showStreamStatus(status) {
  const node = $('stream-status');
  node.dataset.status = status;
  node.textContent = STATUS_TEXT[status] ?? status;
}

let workspace = null;

async function signIn(event) {
  event.preventDefault();
  const userName = $('user-name').value;
  const password = $('password');
  const button = $('sign-in-button');
  button.disabled = true;
  showError('sign-in-error', null);
  const api = new Api(userName, password.value);
  try {
    await api.checkSignIn();
  } catch (error) {
    showError('sign-in-error', signInMessage(error));
    button.disabled = false;
    return;
  }
  password.value = '';
  button.disabled = false;
  $('who').textContent = userName;
  $('session').hidden = false;
  $('sign-in-view').hidden = true;
  $('workspace-view').hidden = false;
  workspace = new Workspace(api);
  workspace.start();
}

function signOut() {
  workspace?.stop();
  workspace = null;
  $('interaction-list').replaceChildren();
  $('detail').replaceChildren(el('p', 'muted', 'Select an interaction.'));
  $('session').hidden = true;
  $('workspace-view').hidden = true;
  $('sign-in-view').hidden = false;
  showStreamStatus('off');
  $('user-name').focus();
}

$('sign-in').addEventListener('submit', signIn);
$('sign-out').addEventListener('click', signOut);
for (const radio of document.querySelectorAll('input[name="scope"]')) {
  radio.addEventListener('change', () => workspace?.setScope(radio.value));
}
$('interaction-list').addEventListener('click', (event) => {
  const row = event.target.closest('button[data-sys-id]');
  if (row && workspace) workspace.select(row.dataset.sysId);
});
