// The Graph view: /health/graph as SVG (cluster peers on a ring, each one's IPFS daemon
// outside it; cluster links, one-way links, peer-to-daemon and daemon-to-daemon links), with
// a legend. Stopped peers the dashboard saw are drawn red, without links.

extension DashboardAssets {
    static let graphJS = #"""
        'use strict';
        (function () {
          const { el, svg } = PM;
          const color = { up: '#1a7f37', late: '#bf8700', down: '#cf222e' };
          let graph = null, timer = null, loading = false;

          async function load() {
            if (loading) return;
            loading = true;
            try {
              graph = await PM.json('/health/graph');
              draw();
            } catch (e) {
              PM.$('#graph-note').textContent = 'Cannot read /health/graph: ' + e.message;
            } finally { loading = false; }
          }

          function line(a, b, attrs) { return svg('line', Object.assign({ x1: a.x, y1: a.y, x2: b.x, y2: b.y }, attrs)); }

          function draw() {
            if (!graph || PM.current !== 'graph') return;
            const names = graph.id_to_peername || {};
            const ids = new Set(Object.keys(names));
            for (const p of PM.peers.values()) ids.add(p.id);
            const label = (id) => names[id] || PM.peerLabel(id);
            const list = [...ids].sort((a, b) => label(a).localeCompare(label(b)) || a.localeCompare(b));
            const W = 800, H = 560, cx = W / 2, cy = H / 2 + 6, n = list.length;
            const R = n <= 1 ? 0 : Math.min(165, 70 + n * 16), RI = R + 100;
            const pos = new Map(), ipfsPos = new Map();
            list.forEach((id, i) => {
              const a = -Math.PI / 2 + (i * 2 * Math.PI) / Math.max(n, 1);
              pos.set(id, { x: cx + R * Math.cos(a), y: cy + R * Math.sin(a), a });
              const ipfs = (graph.cluster_to_ipfs || {})[id];
              if (ipfs) ipfsPos.set(ipfs, { x: cx + RI * Math.cos(a), y: cy + RI * Math.sin(a), owner: id });
            });
            const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'the cluster connection graph', id: 'graph-svg' });
            root.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 30, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
              svg('path', { d: 'M0,0L10,5L0,10z', fill: '#bc4c00' }))));
            const edges = svg('g', { class: 'edges' });
            // Peer to its IPFS daemon.
            for (const [ipfs, p] of ipfsPos) edges.append(line(pos.get(p.owner), p, { stroke: '#8c959f', 'stroke-width': 1.5, 'stroke-dasharray': '2 4', class: 'edge-ipfs-owner' }));
            // IPFS daemon to IPFS daemon.
            const seenIPFS = new Set();
            for (const [from, tos] of Object.entries(graph.ipfs_links || {})) for (const to of tos || []) {
              const k = [from, to].sort().join(' ');
              if (seenIPFS.has(k) || !ipfsPos.has(from) || !ipfsPos.has(to)) continue;
              seenIPFS.add(k);
              edges.append(line(ipfsPos.get(from), ipfsPos.get(to), { stroke: '#1b7c83', 'stroke-width': 1.5, class: 'edge-ipfs' }));
            }
            // Cluster links: mutual (both peers list each other) or one way.
            const dir = new Set();
            for (const [from, tos] of Object.entries(graph.cluster_links || {})) for (const to of tos || []) if (from !== to) dir.add(from + ' ' + to);
            const done = new Set();
            let oneWay = 0, mutual = 0;
            for (const k of dir) {
              const [a, b] = k.split(' ');
              const key = [a, b].sort().join(' ');
              if (done.has(key) || !pos.has(a) || !pos.has(b)) continue;
              done.add(key);
              if (dir.has(b + ' ' + a)) { mutual++; edges.append(line(pos.get(a), pos.get(b), { stroke: '#0b5cad', 'stroke-width': 2.5, class: 'edge-cluster' })); }
              else { oneWay++; edges.append(line(pos.get(a), pos.get(b), { stroke: '#bc4c00', 'stroke-width': 2, 'stroke-dasharray': '7 5', 'marker-end': 'url(#arrow)', class: 'edge-oneway' })); }
            }
            root.append(edges);
            const nodes = svg('g', { class: 'nodes' });
            for (const [ipfs, p] of ipfsPos) {
              nodes.append(svg('g', { class: 'ipfs-node', 'data-ipfs': ipfs },
                svg('rect', { x: p.x - 38, y: p.y - 15, width: 76, height: 30, rx: 8, fill: '#e6f6f4', stroke: '#1b7c83', 'stroke-width': 1.5 }),
                svg('text', { x: p.x, y: p.y - 1, 'text-anchor': 'middle', 'font-size': 10, 'font-weight': 700, fill: '#1b7c83', text: 'IPFS' }),
                svg('text', { x: p.x, y: p.y + 10, 'text-anchor': 'middle', 'font-size': 8.5, fill: '#1b7c83', text: PM.short(ipfs).slice(-8) })));
            }
            for (const id of list) {
              const p = pos.get(id);
              const peer = PM.peers.get(id);
              const state = peer ? PM.peerState(peer) : (names[id] !== undefined ? 'up' : 'down');
              const trusted = (graph.cluster_trust_links || {})[id] === true;
              const g = svg('g', { class: 'node ' + state, 'data-peer': id, 'data-state': state });
              if (id === graph.cluster_id) g.append(svg('circle', { cx: p.x, cy: p.y, r: 29, fill: 'none', stroke: '#0d1f33', 'stroke-width': 1.5 }));
              g.append(svg('circle', { cx: p.x, cy: p.y, r: 23, fill: color[state], stroke: trusted ? '#0d1f33' : '#8c959f', 'stroke-width': trusted ? 3 : 2, 'stroke-dasharray': trusted ? null : '4 3' }));
              g.append(svg('text', { x: p.x, y: p.y + 4, 'text-anchor': 'middle', 'font-size': 11, 'font-weight': 700, fill: '#fff', text: String(list.indexOf(id) + 1) }));
              const below = R === 0 || Math.sin(p.a) > -0.3;
              const ty = below ? p.y + 44 : p.y - 48;
              g.append(svg('text', { x: p.x, y: ty, 'text-anchor': 'middle', 'font-size': 13, 'font-weight': 700, fill: '#1f2328', text: label(id) }));
              g.append(svg('text', { x: p.x, y: ty + 13, 'text-anchor': 'middle', 'font-size': 9.5, fill: '#57606a', text: PM.short(id) + (state === 'down' ? ' · down' : '') }));
              g.append(svg('title', { text: label(id) + '\n' + id + '\n' + state + (trusted ? ', trusted' : ', not trusted') }));
              nodes.append(g);
            }
            root.append(nodes);
            PM.$('#graph').replaceChildren(root);
            const me = label(graph.cluster_id);
            PM.$('#graph-note').textContent = `As ${me} sees it: ${list.length} peers, ${mutual} two-way and ${oneWay} one-way cluster links, ` +
              `${ipfsPos.size} IPFS daemons. IPFS-to-IPFS links are drawn when /health/graph lists them.`;
          }

          function legend() {
            const item = (sample, text) => el('div', {}, svg('svg', { width: 44, height: 22, viewBox: '0 0 44 22' }, sample), el('span', { text }));
            const dot = (fill, extra) => svg('circle', Object.assign({ cx: 22, cy: 11, r: 8, fill, stroke: '#0d1f33', 'stroke-width': 2 }, extra || {}));
            const seg = (attrs) => svg('line', Object.assign({ x1: 2, y1: 11, x2: 42, y2: 11 }, attrs));
            PM.$('#graph-legend').replaceChildren(
              el('h3', { text: 'Legend' }),
              item(dot('#1a7f37'), 'cluster peer, alive'),
              item(dot('#bf8700'), 'peer whose ping is late'),
              item(dot('#cf222e'), 'peer down (ping expired)'),
              item(dot('#1a7f37', { stroke: '#8c959f', 'stroke-dasharray': '4 3' }), 'peer not in trusted_peers'),
              item(svg('g', {}, svg('circle', { cx: 22, cy: 11, r: 10, fill: 'none', stroke: '#0d1f33', 'stroke-width': 1.2 }), dot('#1a7f37', { r: 7 })), 'the peer serving this page'),
              item(svg('rect', { x: 6, y: 3, width: 32, height: 16, rx: 5, fill: '#e6f6f4', stroke: '#1b7c83' }), 'IPFS daemon of a peer'),
              item(seg({ stroke: '#0b5cad', 'stroke-width': 3 }), 'cluster link (both ways)'),
              item(seg({ stroke: '#bc4c00', 'stroke-width': 2, 'stroke-dasharray': '7 5' }), 'cluster link seen one way'),
              item(seg({ stroke: '#8c959f', 'stroke-width': 1.5, 'stroke-dasharray': '2 4' }), 'peer to its IPFS daemon'),
              item(seg({ stroke: '#1b7c83', 'stroke-width': 1.5 }), 'IPFS daemon to IPFS daemon'));
          }

          PM.listeners.push(draw);
          PM.views.graph = {
            show() { legend(); load(); timer = setInterval(load, 5000); },
            hide() { clearInterval(timer); },
          };
        })();
        """#
}
