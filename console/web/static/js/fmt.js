export function bytes(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = Number(n);
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? Math.round(v) : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function rate(n) {
  return `${bytes(n)}/s`;
}

export function pct(frac) {
  if (frac === null || frac === undefined || Number.isNaN(frac)) return '—';
  return `${(frac * 100).toFixed(frac >= 0.995 || frac === 0 ? 0 : 1)}%`;
}

export function duration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  // whole units, rounded once at the smallest shown, so 11 h 59.7 min
  // reads 12 h 0 min, never 11 h 60 min
  const sec = Math.round(s);
  if (sec < 3600) return `${Math.floor(sec / 60)} min ${sec % 60} s`;
  const min = Math.round(s / 60);
  if (min < 48 * 60) return `${Math.floor(min / 60)} h ${min % 60} min`;
  const hours = Math.round(s / 3600);
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export function date(ms) {
  if (!ms) return '—';
  return new Date(ms).toLocaleString();
}

export function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
