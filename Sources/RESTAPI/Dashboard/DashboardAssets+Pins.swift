// The Pins view: pages read from the GET /pins stream (the lines before the page are skipped,
// reading stops one line after it: the whole state is never held), a status filter (the
// route's), a search by name or CID (a whole CID asks the route for that CID only), each pin's
// status on every peer, pin, unpin, recover, and uploads by drag and drop through POST /add.

extension DashboardAssets {
    static let pinsJS = #"""
        'use strict';
        (function () {
          const { el } = PM;
          const size = 20;
          let page = 0, hasNext = false, controller = null, timer = null, armed = null, busy = false;
          const isCID = (s) => /^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{50,}|z[1-9A-HJ-NP-Za-km-z]{40,}|f[0-9a-f]{60,})$/.test(s);

          function source() {
            const q = new URLSearchParams();
            const filter = PM.$('#pin-filter').value;
            const search = PM.$('#pin-search').value.trim();
            if (filter) q.set('filter', filter);
            if (isCID(search)) q.set('cids', search);
            const s = q.toString();
            // ?cids= answers a CID the cluster does not pin too (unpinned on every peer): not a pin.
            const pinnedSomewhere = (g) => Object.values(g.peer_map || {}).some((i) => i.status !== 'unpinned');
            const words = search.toLowerCase();
            return { url: '/pins' + (s ? '?' + s : ''), match: isCID(search) ? pinnedSomewhere : !search ? () => true
              : (g) => (g.name || '').toLowerCase().includes(words) || g.cid.toLowerCase().includes(words) };
          }

          async function load() {
            if (controller) controller.abort();
            const mine = (controller = new AbortController());
            busy = true;
            const { url, match } = source();
            const rows = [];
            let read = 0, matched = 0, more = false;
            const status = PM.$('#pins-status');
            try {
              for await (const g of PM.ndjson(url, { signal: mine.signal })) {
                read++;
                if (!match(g)) continue;
                matched++;
                if (matched <= page * size) continue;
                if (rows.length === size) { more = true; break; }
                rows.push(g);
              }
            } catch (e) {
              if (mine.signal.aborted) return;
              status.textContent = 'Cannot read GET /pins: ' + e.message;
              busy = false;
              return;
            }
            if (mine !== controller) return;
            controller = null;
            busy = false;
            if (rows.length === 0 && page > 0) { page--; return load(); }
            hasNext = more;
            render(rows);
            const first = page * size + 1;
            status.textContent = rows.length === 0 ? (matched === 0 && read === 0 ? 'No pins.' : 'No pin matches.')
              : `Pins ${first}–${first + rows.length - 1}` + (more ? ', more follow' : '') + ` (${read} read from the stream${more ? ', stopped there' : ''}).`;
          }

          function chip(peer, info) {
            return el('span', { class: 'chip st-' + info.status, 'data-peer': peer, 'data-status': info.status,
              title: (info.peername || peer) + ': ' + info.status + (info.error ? '\n' + info.error : '') + (info.timestamp ? '\n' + info.timestamp : ''),
              text: (info.peername || PM.peerLabel(peer)) + ' · ' + info.status.replace(/_/g, ' ') });
          }

          function button(text, cls, onclick) { return el('button', { class: 'small ' + cls, text, onclick }); }

          async function act(what, cid, method, path) {
            try {
              await PM.json(path, { method });
              PM.toast(what + ' ' + PM.short(cid));
            } catch (e) {
              PM.toast(what + ' failed: ' + e.message, true);
            }
            load();
          }

          function row(g) {
            const entries = Object.entries(g.peer_map || {}).sort((a, b) => (a[1].peername || a[0]).localeCompare(b[1].peername || b[0]));
            const failed = entries.some(([, i]) => /error|unexpectedly/.test(i.status));
            const unpin = button('Unpin', 'ghost unpin', (e) => {
              const b = e.currentTarget;
              if (armed !== b) {
                if (armed) { armed.textContent = 'Unpin'; armed.className = 'small ghost unpin'; }
                armed = b;
                b.textContent = 'Confirm unpin';
                b.className = 'small danger unpin';
                setTimeout(() => { if (armed === b) { armed = null; b.textContent = 'Unpin'; b.className = 'small ghost unpin'; } }, 6000);
                return;
              }
              armed = null;
              b.disabled = true;
              act('Unpinned', g.cid, 'DELETE', '/pins/' + encodeURIComponent(g.cid));
            });
            const created = g.created && !g.created.startsWith('0001') ? new Date(g.created) : null;
            return el('tr', { class: 'pin', 'data-cid': g.cid, 'data-name': g.name || '' },
              el('td', { 'data-label': 'Name', class: 'pin-name', text: g.name || '–' }),
              el('td', { 'data-label': 'CID', class: 'mono', title: g.cid, text: g.cid }),
              el('td', { 'data-label': 'Status' }, el('div', { class: 'chips' }, entries.map(([p, i]) => chip(p, i)))),
              el('td', { 'data-label': 'Created', class: 'small', text: created && !isNaN(created) ? created.toLocaleString() : '–' }),
              el('td', { class: 'actions' },
                failed ? button('Recover', 'recover', () => act('Recovering', g.cid, 'POST', '/pins/' + encodeURIComponent(g.cid) + '/recover')) : null,
                unpin));
          }

          function render(rows) {
            armed = null;
            PM.$('#pins-body').replaceChildren(...rows.map(row));
            PM.$('#pins-page').textContent = 'page ' + (page + 1);
            PM.$('#pins-prev').disabled = page === 0;
            PM.$('#pins-next').disabled = !hasNext;
          }

          async function pin(e) {
            e.preventDefault();
            const cid = PM.$('#pin-cid').value.trim();
            const q = new URLSearchParams();
            const name = PM.$('#pin-name').value.trim();
            const r = PM.$('#pin-replication').value.trim();
            if (name) q.set('name', name);
            if (r) q.set('replication', r);
            try {
              await PM.json('/pins/' + encodeURIComponent(cid) + (q.toString() ? '?' + q : ''), { method: 'POST' });
              PM.toast('Pinned ' + PM.short(cid));
              PM.$('#pin-cid').value = '';
              PM.$('#pin-name').value = '';
            } catch (err) {
              PM.toast('Pin failed: ' + err.message, true);
            }
            load();
          }

          // ---- uploads: POST /add (multipart), the bar follows the bytes sent; then the pin's
          // status on its allocations until every one is pinned
          function upload(file) {
            const bar = el('progress', { max: 1, value: 0 });
            const st = el('span', { class: 'st', text: 'uploading' });
            const note = el('div', { class: 'note', text: PM.bytes(file.size) });
            const entry = el('div', { class: 'upload', 'data-name': file.name, 'data-state': 'uploading' }, el('span', { class: 'what', title: file.name, text: file.name }), bar, st, note);
            PM.$('#uploads').prepend(entry);
            const set = (state, text, detail) => { entry.dataset.state = state; st.textContent = text; if (detail !== undefined) note.textContent = detail; };
            const q = new URLSearchParams({ name: file.name, progress: 'true' });
            const r = PM.$('#pin-replication').value.trim();
            if (r) q.set('replication', r);
            const xhr = new XMLHttpRequest();
            xhr.open('POST', '/add?' + q);
            const t = PM.token();
            if (t) xhr.setRequestHeader('Authorization', 'Bearer ' + t);
            let seen = 0, root = null, imported = 0;
            const lines = () => {
              const text = xhr.responseText;
              let i;
              while ((i = text.indexOf('\n', seen)) >= 0) {
                const line = text.slice(seen, i);
                seen = i + 1;
                try {
                  const o = JSON.parse(line);
                  if (o.cid) root = o; else if (o.bytes) imported = o.bytes;
                } catch (e) { /* a partial line: read again later */ }
              }
            };
            xhr.upload.onprogress = (e) => {
              if (!e.lengthComputable) return;
              bar.value = e.loaded / e.total;
              note.textContent = PM.bytes(e.loaded) + ' of ' + PM.bytes(e.total) + ' sent' + (imported ? ', ' + PM.bytes(imported) + ' imported' : '');
            };
            xhr.onprogress = lines;
            xhr.onerror = () => set('error', 'failed', 'the API cannot be reached');
            xhr.onload = () => {
              lines();
              const rest = xhr.responseText.slice(seen).trim();
              if (rest) { try { const o = JSON.parse(rest); if (o.cid) root = o; } catch (e) { /* not a line */ } }
              if (xhr.status === 401) return set('error', 'sign in again', 'the API refused the token');
              if (xhr.status !== 200 || !root) {
                let msg = 'the add ended without a CID (HTTP ' + xhr.status + ')';
                try { msg = JSON.parse(xhr.responseText).message || msg; } catch (e) { /* a stream cut short */ }
                return set('error', 'failed', msg);
              }
              bar.value = 1;
              entry.dataset.cid = root.cid;
              set('pinning', 'pinning', root.cid);
              follow(root.cid, set);
            };
            xhr.send((() => { const f = new FormData(); f.append('file', file, file.name); return f; })());
          }

          async function follow(cid, set) {
            const until = Date.now() + 180000;
            while (Date.now() < until) {
              try {
                const g = await PM.json('/pins/' + encodeURIComponent(cid));
                // The allocations, or (replication -1: none listed) every peer that answered.
                const map = g.peer_map || {};
                const mine = g.allocations && g.allocations.length ? g.allocations.map((p) => [p, map[p]])
                  : Object.entries(map).filter(([, i]) => i.status !== 'cluster_error' && i.status !== 'remote');
                const pinned = mine.filter(([, i]) => i && i.status === 'pinned');
                const failed = mine.find(([, i]) => i && (i.status === 'pin_error' || i.status === 'unexpectedly_unpinned'));
                if (failed) return set('error', failed[1].status.replace(/_/g, ' '), cid + ': ' + (failed[1].error || 'on ' + PM.peerLabel(failed[0])));
                const live = Object.values(g.peer_map || {}).filter((i) => i.status === 'pinned');
                if (mine.length > 0 && pinned.length === mine.length) {
                  set('pinned', 'PINNED', cid + ' · on ' + live.map((i) => i.peername).sort().join(', '));
                  if (PM.current === 'pins') load();
                  return;
                }
                set('pinning', 'pinning ' + pinned.length + '/' + mine.length);
              } catch (e) { /* the pin may not be visible yet */ }
              await new Promise((r) => setTimeout(r, 1000));
            }
            set('error', 'still pinning', cid + ': not pinned on every allocation after 3 minutes; see its row');
          }

          window.addEventListener('DOMContentLoaded', () => {
            let debounce = null;
            PM.$('#pin-search').addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(() => { page = 0; load(); }, 250); });
            PM.$('#pin-filter').addEventListener('change', () => { page = 0; load(); });
            PM.$('#pins-refresh').addEventListener('click', load);
            PM.$('#pins-prev').addEventListener('click', () => { if (page > 0) { page--; load(); } });
            PM.$('#pins-next').addEventListener('click', () => { if (hasNext) { page++; load(); } });
            PM.$('#pin-form').addEventListener('submit', pin);
            const zone = PM.$('#dropzone');
            zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
            zone.addEventListener('dragleave', () => zone.classList.remove('over'));
            zone.addEventListener('drop', (e) => {
              e.preventDefault();
              zone.classList.remove('over');
              for (const f of e.dataTransfer.files) upload(f);
            });
            PM.$('#file-input').addEventListener('change', (e) => { for (const f of e.target.files) upload(f); e.target.value = ''; });
          });

          PM.views.pins = {
            show() { load(); timer = setInterval(() => { if (!busy && !armed) load(); }, 5000); },
            hide() { clearInterval(timer); if (controller) controller.abort(); },
          };
        })();
        """#
}
