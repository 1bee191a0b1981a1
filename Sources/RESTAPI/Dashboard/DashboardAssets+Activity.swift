// The Activity view: plots of what the poll samples every 2 s (kept for 10 minutes while the
// page is open): pins allocated per second (the change of the peers' `numpin` metrics), each
// peer's pin queue (`pinqueue`), alerts over time (`/health/alerts`, which keeps them from
// before the page opened) and this peer's cluster-transport bandwidth (`/health/bandwidth`;
// no route gives other peers' bandwidth).

extension DashboardAssets {
    static let activityJS = #"""
        'use strict';
        (function () {
          const { el, svg } = PM;
          const span = 300000, keep = 300;
          const palette = ['#0b5cad', '#bc4c00', '#1a7f37', '#8250df', '#bf3989', '#1b7c83', '#9a6700', '#57606a'];
          const samples = [];

          function sample() {
            const t = PM.serverNow();
            const live = PM.sortedPeers().filter((p) => PM.peerState(p) !== 'down');
            const queue = {};
            let numpin = 0;
            for (const p of live) {
              if (p.metrics.numpin) numpin += Number(p.metrics.numpin.value) || 0;
              if (p.metrics.pinqueue) queue[p.id] = Number(p.metrics.pinqueue.value) || 0;
            }
            let bin = null, bout = null;
            if (PM.bandwidth) {
              bin = 0; bout = 0;
              for (const s of Object.values(PM.bandwidth)) { bin += s.RateIn || 0; bout += s.RateOut || 0; }
            }
            samples.push({ t, numpin, queue, bin, bout });
            if (samples.length > keep) samples.shift();
            if (PM.current === 'activity') render();
          }

          function pinsPerSecond() {
            const out = [];
            let j = 0;
            for (let i = 0; i < samples.length; i++) {
              while (j < i && samples[i].t - samples[j + 1].t >= 10000) j++;
              const dt = (samples[i].t - samples[j].t) / 1000;
              if (i > 0 && dt > 0) out.push([samples[i].t, (samples[i].numpin - samples[j].numpin) / dt]);
            }
            return out;
          }

          function frame(title, sub, id) {
            return el('div', { class: 'chart', id }, el('h3', { text: title }), el('p', { text: sub }));
          }

          // A line plot of `series` ([{name, color, points: [[t, v]]}]) over the last five minutes.
          function lines(title, sub, id, series, fmt) {
            const W = 520, H = 170, L = 70, R = 10, T = 8, B = 22;
            const now = PM.serverNow(), t0 = now - span;
            let lo = 0, hi = 0;
            for (const s of series) for (const [, v] of s.points) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
            if (hi - lo < 1e-9) hi = lo + 1;
            const x = (t) => L + ((t - t0) / span) * (W - L - R);
            const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
            const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title });
            for (const v of [lo, (lo + hi) / 2, hi]) {
              root.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#eaeef2' }));
              root.append(svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#57606a', text: fmt(v) }));
            }
            if (lo < 0) root.append(svg('line', { x1: L, x2: W - R, y1: y(0), y2: y(0), stroke: '#afb8c1' }));
            [['-5 min', t0], ['-2.5 min', t0 + span / 2], ['now', now]].forEach(([label, t], i) =>
              root.append(svg('text', { x: x(t), y: H - 6, 'text-anchor': ['start', 'middle', 'end'][i], 'font-size': 10, fill: '#57606a', text: label })));
            for (const s of series) {
              const pts = s.points.filter(([t]) => t >= t0).map(([t, v]) => x(t).toFixed(1) + ',' + y(v).toFixed(1)).join(' ');
              if (pts) root.append(svg('polyline', { points: pts, fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-linejoin': 'round', 'data-series': s.name }));
            }
            const f = frame(title, sub, id);
            f.append(root, el('div', { class: 'keys' }, series.map((s) => {
              const last = s.points.length ? s.points[s.points.length - 1][1] : undefined;
              const key = el('span', {}, el('i'), s.name + (last === undefined ? '' : ': ' + fmt(last)));
              key.firstChild.style.background = s.color;
              return key;
            })));
            return f;
          }

          // Alerts raised per 30 s over the last ten minutes, from /health/alerts.
          function alertBars() {
            const W = 520, H = 150, L = 70, R = 10, T = 8, B = 22, bucket = 30000, n = 20;
            const now = PM.serverNow(), t0 = now - n * bucket;
            const counts = new Array(n).fill(0), names = new Array(n).fill(null).map(() => ({}));
            let total = 0;
            for (const a of PM.alerts) {
              const t = Date.parse(a.triggered_at);
              if (!(t >= t0 && t <= now)) continue;
              const i = Math.min(n - 1, Math.floor((t - t0) / bucket));
              counts[i]++;
              names[i][a.name] = (names[i][a.name] || 0) + 1;
              total++;
            }
            const hi = Math.max(1, ...counts);
            const bw = (W - L - R) / n;
            const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'alerts over time' });
            for (const v of [0, hi / 2, hi]) {
              const yy = T + (1 - v / hi) * (H - T - B);
              root.append(svg('line', { x1: L, x2: W - R, y1: yy, y2: yy, stroke: '#eaeef2' }));
              root.append(svg('text', { x: L - 6, y: yy + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#57606a', text: Number.isInteger(v) ? String(v) : v.toFixed(1) }));
            }
            counts.forEach((c, i) => {
              if (!c) return;
              const h = (c / hi) * (H - T - B);
              const bar = svg('rect', { x: L + i * bw + 1, y: H - B - h, width: bw - 2, height: h, fill: '#cf222e', rx: 2, class: 'alert-bar' });
              bar.append(svg('title', { text: c + ' alerts: ' + Object.entries(names[i]).map(([k, v]) => k + ' ×' + v).join(', ') }));
              root.append(bar);
            });
            [['-10 min', 'start', L], ['-5 min', 'middle', L + (W - L - R) / 2], ['now', 'end', W - R]].forEach(([label, anchor, xx]) =>
              root.append(svg('text', { x: xx, y: H - 6, 'text-anchor': anchor, 'font-size': 10, fill: '#57606a', text: label })));
            const f = frame('Alerts', total + ' in the last 10 minutes (a metric that expired: a ping alert is a peer that stopped)', 'chart-alerts');
            f.append(root);
            return f;
          }

          function render() {
            const peers = PM.sortedPeers();
            const queue = peers.filter((p) => samples.some((s) => s.queue[p.id] !== undefined)).map((p, i) => ({
              name: PM.peerLabel(p.id), color: palette[i % palette.length],
              points: samples.filter((s) => s.queue[p.id] !== undefined).map((s) => [s.t, s.queue[p.id]]) }));
            const me = PM.peerLabel(PM.selfId);
            const bw = samples.filter((s) => s.bin !== null);
            const charts = [
              lines('Pins allocated per second', 'the change of the live peers\' numpin metrics over 10 s (negative: unpins); numpin counts pins allocated to a peer by name, not those on every peer (replication -1), and is refreshed every few seconds',
                'chart-pins', [{ name: 'pins/s', color: '#0b5cad', points: pinsPerSecond() }], (v) => (Math.abs(v) < 10 ? v.toFixed(1) : v.toFixed(0))),
              lines('Pin queue depth', 'pins queued or in progress on each peer (pinqueue metric)', 'chart-queue', queue, (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1))),
              alertBars(),
            ];
            if (bw.length > 0) {
              charts.push(lines('Bandwidth of ' + me, 'this peer\'s cluster transport (TCP and UDP, GET /health/bandwidth); the REST API gives no other peer\'s traffic',
                'chart-bw', [
                  { name: 'in', color: '#1a7f37', points: bw.map((s) => [s.t, s.bin]) },
                  { name: 'out', color: '#bc4c00', points: bw.map((s) => [s.t, s.bout]) },
                ], (v) => PM.bytes(v) + '/s'));
            }
            PM.$('#charts').replaceChildren(...charts);
            PM.$('#activity-note').textContent = `${samples.length} samples since this page opened (every 2 s, the last 10 minutes are kept). ` +
              (bw.length ? '' : 'Bandwidth: GET /health/bandwidth did not answer, so no bandwidth plot. ');
          }

          PM.listeners.push(sample);
          PM.views.activity = { show: render };
        })();
        """#
}
