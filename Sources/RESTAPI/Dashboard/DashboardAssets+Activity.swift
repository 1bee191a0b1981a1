// The Activity view: plots of what the poll samples every 2 s (kept for 10 minutes while the
// page is open). Every peer publishes counters on the metrics topic (`Specs/monitoring.md`):
// `pinned_total` (pin operations its tracker ended pinned, for every replication factor) and
// `bandwidth` (its cluster transport's bytes and its IPFS node's bitswap block bytes, in and
// out); the plots are their rates, one line per peer, from each metric's own time
// (`received_at`), a counter that went down (a restarted daemon) counting from zero again.
// Besides: each peer's pin queue (`pinqueue`) and alerts over time (`/health/alerts`, which
// keeps them from before the page opened).

extension DashboardAssets {
    static let activityJS = #"""
        'use strict';
        (function () {
          const { el, svg } = PM;
          const span = 300000, keep = 300;
          const palette = ['#0b5cad', '#bc4c00', '#1a7f37', '#8250df', '#bf3989', '#1b7c83', '#9a6700', '#57606a'];
          const samples = [];
          // peer ID → { pinned: [[t, n]], bw: [[t, {cluster_in, cluster_out, ipfs_in, ipfs_out}]] },
          // one point per metric published (deduplicated by its received_at).
          const history = new Map();

          function push(list, t, v) {
            if (list.length && list[list.length - 1][0] >= t) return;
            list.push([t, v]);
            while (list.length && list[0][0] < t - 2 * span) list.shift();
          }

          function sample() {
            const t = PM.serverNow();
            const live = PM.sortedPeers().filter((p) => PM.peerState(p) !== 'down');
            const queue = {};
            for (const p of live) if (p.metrics.pinqueue) queue[p.id] = Number(p.metrics.pinqueue.value) || 0;
            for (const p of PM.peers.values()) {
              let h = history.get(p.id);
              if (!h) { h = { pinned: [], bw: [] }; history.set(p.id, h); }
              const pm = p.metrics.pinned_total, bm = p.metrics.bandwidth;
              if (pm && isFinite(Number(pm.value))) push(h.pinned, pm.received_at / 1e6, Number(pm.value));
              if (bm) { try { push(h.bw, bm.received_at / 1e6, JSON.parse(bm.value)); } catch (e) { /* not this metric's format */ } }
            }
            samples.push({ t, queue });
            if (samples.length > keep) samples.shift();
            if (PM.current === 'activity') render();
          }

          // A counter's points → { rates: [[t, per second over `window` ms]], total: its growth over
          // the points }; a drop is a restart, counted from zero.
          function counterRates(points, window) {
            const adj = [];
            let acc = 0;
            points.forEach(([t, v], i) => {
              if (i > 0) { const prev = points[i - 1][1]; acc += v >= prev ? v - prev : v; }
              adj.push([t, acc]);
            });
            const rates = [];
            let j = 0;
            for (let i = 1; i < adj.length; i++) {
              while (j < i - 1 && adj[i][0] - adj[j + 1][0] >= window) j++;
              const dt = (adj[i][0] - adj[j][0]) / 1000;
              if (dt > 0) rates.push([adj[i][0], (adj[i][1] - adj[j][1]) / dt]);
            }
            return { rates, total: acc };
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
              if (pts) root.append(svg('polyline', Object.assign({ points: pts, fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-linejoin': 'round', 'stroke-dasharray': s.dash ? '5 3' : null, 'data-series': s.name }, s.data || {})));
            }
            const f = frame(title, sub, id);
            f.append(root, el('div', { class: 'keys' }, series.map((s) => {
              const last = s.points.length ? s.points[s.points.length - 1][1] : undefined;
              const key = el('span', {}, el('i'), s.name + (last === undefined ? '' : ': ' + fmt(last)) + (s.note || ''));
              if (s.dash) key.firstChild.style.borderTop = '3px dashed ' + s.color; else key.firstChild.style.background = s.color;
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
            const colour = new Map(peers.map((p, i) => [p.id, palette[i % palette.length]]));
            const queue = peers.filter((p) => samples.some((s) => s.queue[p.id] !== undefined)).map((p) => ({
              name: PM.peerLabel(p.id), color: colour.get(p.id),
              points: samples.filter((s) => s.queue[p.id] !== undefined).map((s) => [s.t, s.queue[p.id]]) }));
            const pins = [], bwIn = [], bwOut = [];
            for (const p of peers) {
              const h = history.get(p.id);
              if (!h) continue;
              const name = PM.peerLabel(p.id), color = colour.get(p.id);
              if (h.pinned.length) {
                const c = counterRates(h.pinned, 10000);
                pins.push({ name, color, points: c.rates, note: ' (' + c.total + ' since the page opened)', data: { 'data-peer': p.id, 'data-value': h.pinned[h.pinned.length - 1][1], 'data-total': c.total, 'data-last': c.rates.length ? c.rates[c.rates.length - 1][1] : 0 } });
              }
              if (!h.bw.length) continue;
              for (const [kind, label, dash] of [['cluster', 'cluster', false], ['ipfs', 'IPFS', true]]) {
                if (h.bw[h.bw.length - 1][1][kind + '_in'] === undefined) continue;
                for (const [dir, out] of [['in', bwIn], ['out', bwOut]]) {
                  const key = kind + '_' + dir;
                  const c = counterRates(h.bw.filter(([, v]) => typeof v[key] === 'number').map(([t, v]) => [t, v[key]]), 5000);
                  out.push({ name: name + ' ' + label, color, dash, points: c.rates,
                    data: { 'data-peer': p.id, 'data-kind': kind, 'data-total': c.total } });
                }
              }
            }
            const rate = (v) => (Math.abs(v) < 10 ? v.toFixed(1) : v.toFixed(0)) + '/s';
            const bps = (v) => PM.bytes(v) + '/s';
            const bwSub = (dir) => 'bytes ' + dir + ' on each peer (its bandwidth metric): solid, the cluster transport (TCP and UDP as on the wire); dashed, its IPFS node\'s bitswap blocks (embedded node only)';
            const charts = [
              lines('Pins reaching pinned per second', 'on each peer, over 10 s: pins its tracker brought to pinned (its pinned_total metric; every replication factor, -1 included; a repeated pin of a CID already pinned not counted)',
                'chart-pins', pins, rate),
              lines('Pin queue depth', 'pins queued or in progress on each peer (pinqueue metric)', 'chart-queue', queue, (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1))),
              lines('Bandwidth in', bwSub('received'), 'chart-bw-in', bwIn, bps),
              lines('Bandwidth out', bwSub('sent'), 'chart-bw-out', bwOut, bps),
              alertBars(),
            ];
            PM.$('#charts').replaceChildren(...charts);
            PM.$('#activity-note').textContent = `${samples.length} samples since this page opened (every 2 s, the last 10 minutes are kept).` +
              (bwIn.length ? '' : ' No peer publishes a bandwidth metric yet (peers older than this version do not).');
          }

          PM.listeners.push(sample);
          PM.views.activity = { show: render };
        })();
        """#
}
