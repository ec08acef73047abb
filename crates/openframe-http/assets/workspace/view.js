// Builds the list rows and the detail pane from API results. Values only ever reach the page as text
// (textContent), never as markup.

import { renderTimeline } from './timeline.js';

/** `tag` with `className` and children (strings become text). */
export function el(tag, className = '', ...children) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

/** A value as the page shows it: the text, or a dash for unset. */
function shown(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return value.value || value.display_value || '—';
  return value === '' ? '—' : String(value);
}

/** The state as a badge; `data-state` lets the stylesheet colour each state. */
export function stateBadge(state) {
  const badge = el('span', 'badge', (state || 'unknown').replaceAll('_', ' '));
  badge.dataset.state = state || 'unknown';
  return badge;
}

/** One list row (a button, so it is reachable by keyboard). */
export function listRow(row, selected) {
  const button = el('button', 'interaction-row',
    el('span', 'row-top', el('strong', 'number', shown(row.number)), stateBadge(row.state)),
    el('span', 'row-caller', shown(row.user_phone_number)),
    el('span', 'row-description', shown(row.short_description)));
  button.type = 'button';
  button.dataset.sysId = row.sys_id;
  button.dataset.number = row.number;
  button.setAttribute('aria-pressed', String(selected));
  const item = el('li', '', button);
  item.dataset.sysId = row.sys_id;
  return item;
}

/** A definition list of `[label, value, name]` triples; `name` becomes `data-field` for tests and styling. */
function facts(pairs) {
  const list = el('dl', 'facts');
  for (const [label, value, name] of pairs) {
    const dd = el('dd', '', shown(value));
    if (name) dd.dataset.field = name;
    list.append(el('dt', '', label), dd);
  }
  return list;
}

/** A table with `columns` ([heading, key]) and one row per item; `empty` when there are none. */
function table(className, columns, items, empty) {
  if (items.length === 0) return el('p', 'muted', empty);
  const head = el('tr', '', ...columns.map(([heading]) => el('th', '', heading)));
  const body = el('tbody', '', ...items.map((item) => el('tr', '',
    ...columns.map(([, key]) => el('td', '', shown(item[key]))))));
  return el('table', className, el('thead', '', head), body);
}

function section(title, ...content) {
  return el('section', 'detail-section', el('h3', '', title), ...content);
}

/** The detail pane's content for one `GET /api/now/openframe/voice-interaction/{sysId}` result. */
export function detailView(result) {
  const i = result.interaction || {};
  const logs = result.phoneLogs || [];
  const related = result.relatedRecords || [];
  const context = Object.entries(result.interactionContext || {}).map(([key, value]) => ({ key, value }));

  const header = el('header', 'detail-header',
    el('h2', '', el('span', 'number', shown(result.number)), ' ', stateBadge(i.state)),
    el('p', 'detail-description', shown(i.short_description)));
  header.querySelector('.badge').id = 'detail-state';
  header.querySelector('.detail-description').dataset.field = 'short_description';

  const caller = section('Caller', facts([
    ['Phone', i.user_phone_number, 'user_phone_number'],
    ['Callback', i.caller_phone_number, 'caller_phone_number'],
    ['Session', i.client_session_id, 'client_session_id'],
    ['Contact', i.contact, 'contact'],
    ['Consumer', i.consumer, 'consumer'],
    ['Account', i.account, 'account'],
  ]));
  const call = section('Interaction', facts([
    ['Direction', i.direction, 'direction'],
    ['Assigned to', i.assigned_to, 'assigned_to'],
    ['Queue', i.queue, 'queue'],
    ['Opened', i.opened_at, 'opened_at'],
    ['Closed', i.closed_at, 'closed_at'],
    ['Provider', i.inbound_id, 'inbound_id'],
    ['Updates', i.sys_mod_count, 'sys_mod_count'],
    ['Last update', i.sys_updated_on, 'sys_updated_on'],
  ]));
  const chart = renderTimeline(logs);
  const timeline = section('Call timeline',
    chart ?? el('p', 'muted', 'No phone log has a start time yet.'));
  const phoneLogs = section(`Phone logs (${logs.length})`, table('phone-logs', [
    ['Call id', 'call_id'], ['Agent', 'agent'], ['Type', 'call_type'], ['Start', 'start_time'],
    ['End', 'end_time'], ['Duration (s)', 'duration'],
  ], logs, 'No phone logs.'));
  const relatedRecords = section(`Related records (${related.length})`, table('related-records', [
    ['Table', 'documentTable'], ['Record', 'documentId'],
  ], related, 'No related records.'));
  const contextTable = section(`Context (${context.length})`, table('context', [
    ['Variable', 'key'], ['Value', 'value'],
  ], context, 'No context variables.'));

  const view = el('div', 'detail', header, el('div', 'detail-grid', caller, call),
    timeline, phoneLogs, relatedRecords, contextTable);
  view.dataset.sysId = result.sysId;
  view.dataset.modCount = i.sys_mod_count ?? '';
  return view;
}
