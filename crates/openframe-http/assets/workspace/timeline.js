// The call timeline: one bar per phone log from its start to its end time, on a shared time axis, as SVG.
// A log without an end time is drawn open (dashed, to the end of the axis); one without a start is left out.

const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const LABEL_WIDTH = 120;
const ROW_HEIGHT = 22;
const AXIS_HEIGHT = 30;
/** The axis spans at least this long, so logs that start together still show as bars. */
const MIN_SPAN_MS = 60_000;

/** `yyyy-MM-dd HH:mm:ss` (UTC) → ms since the epoch, or null. */
export function parseUtc(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text ?? '');
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/**
 * Where each bar goes: `{ from, to, bars: [{ label, start, end, open, x, width }] }`, x and width in the
 * chart's units (the plot spans LABEL_WIDTH..WIDTH). Pure, for tests.
 */
export function timelineModel(phoneLogs) {
  const timed = phoneLogs
    .map((log) => ({ log, start: parseUtc(log.start_time), end: parseUtc(log.end_time) }))
    .filter(({ start }) => start !== null);
  if (timed.length === 0) return { from: null, to: null, bars: [] };
  const from = Math.min(...timed.map((t) => t.start));
  const latest = Math.max(...timed.map((t) => Math.max(t.start, t.end ?? t.start)));
  const to = Math.max(latest, from + MIN_SPAN_MS);
  const plot = WIDTH - LABEL_WIDTH;
  const x = (ms) => LABEL_WIDTH + ((ms - from) / (to - from)) * plot;
  const bars = timed.map(({ log, start, end }) => {
    const open = end === null || end < start;
    const x0 = x(start);
    const x1 = open ? WIDTH : x(end);
    return { label: log.call_id || '(no call id)', start, end: open ? null : end, open, x: x0, width: Math.max(x1 - x0, 2) };
  });
  return { from, to, bars };
}

function svg(name, attributes = {}, text = null) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== null) element.textContent = text;
  return element;
}

function clock(ms) {
  return new Date(ms).toISOString().slice(11, 19);
}

/** The timeline as an `<svg>` element, or null when no phone log has a start time. */
export function renderTimeline(phoneLogs) {
  const { from, to, bars } = timelineModel(phoneLogs);
  if (bars.length === 0) return null;
  const height = bars.length * ROW_HEIGHT + AXIS_HEIGHT;
  const chart = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${height}`, class: 'timeline', role: 'img',
    'aria-label': `Call timeline: ${bars.length} phone log${bars.length === 1 ? '' : 's'}`,
  });
  bars.forEach((bar, row) => {
    const y = row * ROW_HEIGHT;
    chart.append(svg('text', { x: 4, y: y + 15, class: 'timeline-label' }, bar.label));
    const rect = svg('rect', {
      x: bar.x, y: y + 4, width: bar.width, height: ROW_HEIGHT - 8, rx: 3,
      class: bar.open ? 'timeline-bar open' : 'timeline-bar',
    });
    const until = bar.open ? 'ongoing' : clock(bar.end);
    rect.append(svg('title', {}, `${bar.label}: ${clock(bar.start)} – ${until}`));
    chart.append(rect);
  });
  const axisY = bars.length * ROW_HEIGHT + 4;
  chart.append(svg('line', { x1: LABEL_WIDTH, y1: axisY, x2: WIDTH, y2: axisY, class: 'timeline-axis' }));
  chart.append(svg('text', { x: LABEL_WIDTH, y: axisY + 16, class: 'timeline-tick' },
    `${new Date(from).toISOString().slice(0, 10)} ${clock(from)} UTC`));
  chart.append(svg('text', { x: WIDTH, y: axisY + 16, class: 'timeline-tick end' }, clock(to)));
  return chart;
}
