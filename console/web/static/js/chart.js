// A small SVG line chart: time on x, one or more series on y. Values of
// null leave a gap (no sample to compute a rate from).
import { h } from './dom.js';
import { clock } from './fmt.js';

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...kids) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const k of kids) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}

// opts: {title, times:[ms], series:[{label, values:[n|null], cls:'s1'}],
//        format(v) -> string, max (optional fixed top of the y axis)}
export function lineChart(opts) {
  const W = 360, H = 170, L = 62, R = 6, T = 8, B = 20;
  const { times, series, format } = opts;
  const all = series.flatMap(x => x.values).filter(v => v !== null && Number.isFinite(v));
  const top = opts.max !== undefined ? opts.max : Math.max(1e-9, ...all) * 1.1;
  const t0 = times.length ? times[0] : 0;
  const t1 = times.length > 1 ? times[times.length - 1] : t0 + 1;
  const x = t => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - R);
  const y = v => T + (1 - v / top) * (H - T - B);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary(opts) });
  svg.append(s('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }));
  for (const frac of [0, 0.5, 1]) {
    const v = top * frac;
    svg.append(s('line', { class: 'axis', x1: L, y1: y(v), x2: W - R, y2: y(v), 'stroke-dasharray': '2 4' }));
    svg.append(s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
  }
  if (times.length) {
    svg.append(s('text', { x: L, y: H - 6 }, clock(t0)));
    svg.append(s('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, clock(t1)));
  }
  for (const ser of series) {
    let d = '';
    const ok = i => i >= 0 && i < ser.values.length && ser.values[i] !== null && Number.isFinite(ser.values[i]);
    ser.values.forEach((v, i) => {
      if (!ok(i)) return;
      const px = x(times[i]).toFixed(1), py = y(v).toFixed(1);
      d += `${ok(i - 1) ? 'L' : 'M'}${px} ${py}`;
      // A lone sample between gaps is a dot, not an invisible move.
      if (!ok(i - 1) && !ok(i + 1)) svg.append(s('circle', { class: `${ser.cls} dot`, cx: px, cy: py, r: 2.5 }));
    });
    if (d) svg.append(s('path', { class: ser.cls, d }));
  }
  return h('figure', { class: 'chart' },
    svg,
    h('figcaption', {},
      h('ul', { class: 'legend' }, series.map(ser => h('li', {}, h('i', { class: ser.cls }), ser.label)))));
}

function summary(opts) {
  const parts = opts.series.map(ser => {
    const last = [...ser.values].reverse().find(v => v !== null && Number.isFinite(v));
    return `${ser.label} ${last === undefined ? 'no data' : 'now ' + opts.format(last)}`;
  });
  return `${opts.title}: ${parts.join('; ')}`;
}
