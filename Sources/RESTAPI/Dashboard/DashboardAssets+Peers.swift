// The Peers view: one row per peer (live from /peers and the monitor's metrics; a stopped peer
// stays, red, from the moment its ping expires), with totals above.

extension DashboardAssets {
    static let peersJS = #"""
        'use strict';
        (function () {
          const { el } = PM;

          function card(value, label, cls) {
            return el('div', { class: 'card' + (cls ? ' ' + cls : '') }, el('b', { text: value }), el('span', { text: label }));
          }
          function metric(p, name) {
            const m = p.metrics[name];
            return m ? m.value : undefined;
          }
          function alertsOf(id) { return PM.alerts.filter((a) => a.peer === id); }
          // The metrics that expired together with the newest alert (a stopped peer's metrics
          // expire at once), sorted.
          function latestNames(alerts) {
            const t = Date.parse(alerts[0].triggered_at);
            return [...new Set(alerts.filter((a) => t - Date.parse(a.triggered_at) < 5000).map((a) => a.name))].sort();
          }

          function row(p) {
            const state = PM.peerState(p);
            const now = PM.serverNow();
            const ping = p.ping || p.lastPing;
            const since = ping ? now - ping.received_at / 1e6 : NaN;
            const alerts = alertsOf(p.id);
            const last = alerts[0];
            const self = p.id === PM.selfId;
            const label = { up: 'up', late: 'late', down: 'down' }[state];
            const addrs = el('td', { class: 'addrs mono', 'data-label': 'Addresses' },
              (p.addresses || []).map((a) => el('div', { title: a, text: a })),
              p.ipfs ? el('div', { class: 'muted', title: (p.ipfs.addresses || []).join('\n'), text: 'IPFS ' + PM.short(p.ipfs.id) + ' · ' + (p.ipfs.addresses || []).length + ' addresses' }) : null);
            return el('tr', { class: 'peer ' + state, 'data-peer': p.id, 'data-name': p.name || '', 'data-state': state },
              el('td', { 'data-label': 'Peer' },
                el('div', { class: 'peer-name' }, el('span', { class: 'dot' }), el('span', { class: 'name', text: p.name || PM.short(p.id) }),
                  el('span', { class: 'state', text: label + (self ? ' · this peer' : '') })),
                el('div', { class: 'mono muted', title: p.id, text: p.id }),
                p.error && state !== 'down' ? el('div', { class: 'alert', text: p.error }) : null),
              addrs,
              el('td', { 'data-label': 'Version', text: p.version || '–' }),
              el('td', { 'data-label': 'Ping', class: 'ping', text: state === 'down' ? (ping ? 'none for ' + PM.age(since) : 'none') : PM.age(since) + ' ago' }),
              el('td', { 'data-label': 'Free space', text: metric(p, 'freespace') === undefined ? '–' : PM.bytes(metric(p, 'freespace')) }),
              el('td', { 'data-label': 'Queue', text: metric(p, 'pinqueue') ?? '–' }),
              el('td', { 'data-label': 'Pins allocated', text: metric(p, 'numpin') ?? '–' }),
              el('td', { 'data-label': 'Alerts' },
                alerts.length === 0 ? el('span', { class: 'muted', text: 'none' })
                  : el('span', { class: 'alert', title: alerts.slice(0, 10).map((a) => a.name + ' expired at ' + a.triggered_at).join('\n'),
                    text: alerts.length + ' · ' + latestNames(alerts).join(', ') + ' · ' + PM.age(now - Date.parse(last.triggered_at)) + ' ago' })));
          }

          // Renders again when the soonest ping expires, so a stopped peer turns red then, not
          // at the next tick or poll.
          let wake = null;
          function schedule(peers) {
            clearTimeout(wake);
            const now = PM.serverNow();
            const next = Math.min(...peers.filter((p) => p.ping).map((p) => p.ping.expire / 1e6).filter((t) => t > now));
            if (isFinite(next)) wake = setTimeout(render, Math.max(20, next - now + 20));
          }

          function render() {
            if (PM.current !== 'peers') return;
            const peers = PM.sortedPeers();
            const body = PM.$('#peers-body');
            if (peers.length === 0) return;
            schedule(peers);
            body.replaceChildren(...peers.map(row));
            const states = peers.map(PM.peerState);
            const live = peers.filter((p, i) => states[i] !== 'down');
            const sum = (name) => live.reduce((s, p) => s + (Number(metric(p, name)) || 0), 0);
            const down = states.filter((s) => s === 'down').length;
            PM.$('#peer-summary').replaceChildren(
              card(String(peers.length), 'peers'),
              card(String(peers.length - down), 'up', 'up'),
              card(String(down), 'down', down ? 'down' : ''),
              card(String(sum('numpin')), 'pins allocated by name (numpin)'),
              card(String(sum('pinqueue')), 'in the pin queues'),
              card(PM.bytes(sum('freespace')), 'free space (live peers)'));
            const me = PM.peers.get(PM.selfId);
            PM.$('#self-name').textContent = me ? (me.name || PM.short(me.id)) : 'this peer';
          }

          PM.listeners.push(render);
          PM.views.peers = { show: render, tick: render };
        })();
        """#
}
