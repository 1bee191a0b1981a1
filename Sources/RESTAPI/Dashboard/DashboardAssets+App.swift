// The dashboard's core script: API calls (the sign-in cookie's token as a bearer token; an
// NDJSON stream read line by line), the poll of the monitor's routes that every view reads,
// the peer model, the views' switch and formatting helpers. Views register in `PM.views`.

extension DashboardAssets {
    static let appJS = #"""
        'use strict';
        const PM = (window.PM = { views: {}, peers: new Map(), selfId: '', alerts: [], listeners: [] });

        // ---- DOM helpers (text only through textContent: nothing from the API becomes markup)
        PM.el = function (tag, attrs, ...kids) {
          const e = document.createElement(tag);
          for (const [k, v] of Object.entries(attrs || {})) {
            if (v === undefined || v === null || v === false) continue;
            if (k === 'text') e.textContent = v;
            else if (k === 'class') e.className = v;
            else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
            else e.setAttribute(k, v === true ? '' : v);
          }
          for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
          return e;
        };
        PM.svg = function (tag, attrs, ...kids) {
          const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
          for (const [k, v] of Object.entries(attrs || {})) {
            if (v === undefined || v === null) continue;
            if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
          }
          for (const k of kids.flat()) if (k) e.append(k);
          return e;
        };
        PM.$ = (s) => document.querySelector(s);

        // ---- formatting
        PM.bytes = function (n) {
          n = Number(n);
          if (!isFinite(n)) return '–';
          const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
          let i = 0;
          while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
          return (i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + ' ' + u[i];
        };
        PM.age = function (ms) {
          if (!isFinite(ms)) return '–';
          const s = Math.max(0, ms / 1000);
          if (s < 10) return s.toFixed(1) + ' s';
          if (s < 120) return Math.round(s) + ' s';
          if (s < 7200) return Math.round(s / 60) + ' min';
          if (s < 172800) return Math.round(s / 3600) + ' h';
          return Math.round(s / 86400) + ' d';
        };
        PM.short = (id) => (id && id.length > 16 ? id.slice(0, 6) + '…' + id.slice(-6) : id || '');
        PM.peerLabel = (id) => { const p = PM.peers.get(id); return (p && p.name) || PM.short(id); };

        // ---- time: the server's clock, from the Date headers of its answers (second precision)
        let skewLo = -Infinity, skewHi = Infinity;
        function noteDate(r) {
          const d = Date.parse(r.headers.get('Date') || '');
          if (isNaN(d)) return;
          const now = Date.now();
          const lo = d - now - 250, hi = d + 1000 - now + 250;
          skewLo = Math.max(skewLo, lo); skewHi = Math.min(skewHi, hi);
          if (skewLo > skewHi) { skewLo = lo; skewHi = hi; }
        }
        PM.serverNow = () => Date.now() + (isFinite(skewLo) && isFinite(skewHi) ? (skewLo + skewHi) / 2 : 0);

        // ---- the API
        PM.token = function () {
          const m = document.cookie.match(/(?:^|;\s*)pinmesh-ui=([^;]+)/);
          return m ? m[1] : null;
        };
        class APIError extends Error {
          constructor(status, message) { super(message); this.status = status; }
        }
        PM.APIError = APIError;
        function signedOut() {
          document.cookie = 'pinmesh-ui=; Path=/ui; Max-Age=0; SameSite=Strict';
          const last = Number(sessionStorage.getItem('pinmesh-ui-reload') || 0);
          if (Date.now() - last > 5000) {
            sessionStorage.setItem('pinmesh-ui-reload', String(Date.now()));
            location.reload();
          }
        }
        PM.api = async function (path, opts) {
          opts = Object.assign({ cache: 'no-store' }, opts || {});
          const headers = new Headers(opts.headers || {});
          const t = PM.token();
          // With a token, credentials 'omit' keeps a 401 from opening the browser's password
          // dialog (the API's challenge is Basic); the Authorization header is sent anyway.
          if (t && !headers.has('Authorization')) { headers.set('Authorization', 'Bearer ' + t); opts.credentials = 'omit'; }
          opts.headers = headers;
          let r;
          try {
            r = await fetch(path, opts);
          } catch (e) {
            if (e.name !== 'AbortError') PM.connection(false, 'the API cannot be reached (' + e.message + ')');
            throw e;
          }
          noteDate(r);
          PM.connection(true);
          if (r.status === 401) { signedOut(); throw new APIError(401, 'the API asks to sign in again'); }
          if (!r.ok) {
            let msg = r.status + ' ' + r.statusText;
            try { msg = (await r.json()).message || msg; } catch (e) { /* not JSON */ }
            throw new APIError(r.status, msg);
          }
          return r;
        };
        PM.json = async function (path, opts) {
          const r = await PM.api(path, opts);
          return r.status === 204 ? null : r.json();
        };
        // One object per line as the answer arrives; leaving the loop early cancels the request,
        // so the server stops producing (it makes each line only when the previous one was taken).
        PM.ndjson = async function* (path, opts) {
          const r = await PM.api(path, opts);
          if (r.status === 204 || !r.body) return;
          const reader = r.body.getReader();
          const dec = new TextDecoder();
          let buf = '';
          try {
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              buf += dec.decode(value, { stream: true });
              let i;
              while ((i = buf.indexOf('\n')) >= 0) {
                const line = buf.slice(0, i);
                buf = buf.slice(i + 1);
                if (line.trim()) yield JSON.parse(line);
              }
            }
            if (buf.trim()) yield JSON.parse(buf);
          } finally {
            reader.cancel().catch(() => {});
          }
        };

        PM.connection = function (ok, why) {
          const c = PM.$('#conn');
          if (!c) return;
          if (ok) { PM.lastOK = Date.now(); c.classList.remove('bad'); c.title = 'the last answer of the API'; }
          else { c.classList.add('bad'); c.textContent = why; }
        };
        PM.toast = function (text, bad) {
          const t = PM.$('#toast');
          t.textContent = text;
          t.className = 'toast' + (bad ? ' bad' : '');
          t.hidden = false;
          clearTimeout(PM.toastTimer);
          PM.toastTimer = setTimeout(() => { t.hidden = true; }, bad ? 8000 : 4000);
        };

        // ---- the peer model: /peers (identities) and the monitor's metrics; a peer stays listed
        // after it stops, red, with what was last known of it
        PM.peer = function (id) {
          let p = PM.peers.get(id);
          if (!p) { p = { id, name: '', addresses: [], version: '', ipfs: null, error: '', ping: null, metrics: {} }; PM.peers.set(id, p); }
          return p;
        };
        PM.peerState = function (p) {
          const now = PM.serverNow();
          if (!p.ping || p.ping.expire / 1e6 <= now) return 'down';
          const ttl = (p.ping.expire - p.ping.received_at) / 1e6;
          return now - p.ping.received_at / 1e6 > ttl * 0.67 ? 'late' : 'up';
        };
        PM.sortedPeers = () => [...PM.peers.values()].sort((a, b) => (a.name || '~' + a.id).localeCompare(b.name || '~' + b.id));

        let peersAt = 0, loadingPeers = false;
        async function loadPeers() {
          if (loadingPeers) return;
          loadingPeers = true;
          try {
            let first = true;
            for await (const id of PM.ndjson('/peers')) {
              if (first) { PM.selfId = id.id; first = false; }
              const p = PM.peer(id.id);
              if (id.peername) p.name = id.peername;
              // A peer that did not answer keeps what it said before.
              if (!id.error || !p.version) {
                p.addresses = id.addresses || [];
                p.version = id.version || '';
                p.ipfs = id.ipfs || null;
              }
              p.error = id.error || '';
            }
            peersAt = Date.now();
          } catch (e) { /* shown by the connection line */ } finally { loadingPeers = false; }
        }

        const metricNames = ['ping', 'freespace', 'pinqueue', 'numpin', 'pinned_total', 'bandwidth'];
        async function poll() {
          try {
            const [lists, alerts] = await Promise.all([
              Promise.all(metricNames.map((n) => PM.json('/monitor/metrics/' + n))),
              PM.json('/health/alerts'),
            ]);
            let unknown = false;
            metricNames.forEach((name, i) => {
              const live = new Set();
              for (const m of lists[i] || []) {
                live.add(m.peer);
                if (!PM.peers.has(m.peer)) unknown = true;
                const p = PM.peer(m.peer);
                if (name === 'ping') { p.ping = m; p.lastPing = m; } else p.metrics[name] = m;
              }
              // Gone from the live list: expired (the monitor drops expired metrics).
              if (name === 'ping') for (const p of PM.peers.values()) if (!live.has(p.id)) p.ping = null;
            });
            PM.alerts = alerts || [];
            for (const a of PM.alerts) if (!PM.peers.has(a.peer)) PM.peer(a.peer);
            if (unknown || Date.now() - peersAt > 10000) await loadPeers();
            PM.sampledAt = Date.now();
            for (const f of PM.listeners) { try { f(); } catch (e) { console.error(e); } }
          } catch (e) { /* the connection line says it */ }
        }

        // ---- views
        function route() {
          const name = (location.hash || '#peers').slice(1).split('?')[0];
          const view = PM.views[name] ? name : 'peers';
          for (const [n, v] of Object.entries(PM.views)) {
            const section = PM.$('#view-' + n);
            const on = n === view;
            if (section.hidden === !on) continue;
            section.hidden = !on;
            if (on && v.show) v.show(); else if (!on && v.hide) v.hide();
          }
          for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === view);
          PM.current = view;
        }
        function tick() {
          const c = PM.$('#conn');
          if (PM.lastOK && !c.classList.contains('bad')) c.textContent = 'updated ' + PM.age(Date.now() - (PM.sampledAt || PM.lastOK)) + ' ago';
          const v = PM.views[PM.current];
          if (v && v.tick) v.tick();
        }

        window.addEventListener('DOMContentLoaded', async () => {
          for (const s of document.querySelectorAll('.view')) s.hidden = true;
          const out = PM.$('#signout');
          if (PM.token()) {
            out.hidden = false;
            out.addEventListener('click', async () => {
              try { await fetch('/token', { method: 'DELETE', headers: { Authorization: 'Bearer ' + PM.token() }, credentials: 'omit' }); } catch (e) { /* signed out here anyway */ }
              document.cookie = 'pinmesh-ui=; Path=/ui; Max-Age=0; SameSite=Strict';
              location.reload();
            });
          }
          window.addEventListener('hashchange', route);
          route();
          await loadPeers();
          await poll();
          setInterval(poll, 2000);
          setInterval(tick, 1000);
        });
        """#
}
