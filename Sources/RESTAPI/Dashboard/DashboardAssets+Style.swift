// The dashboard's style sheet: one layout from a phone's width up; tables become cards below
// 760 px.

extension DashboardAssets {
    static let styleCSS = #"""
        :root{--bg:#f3f5f8;--panel:#fff;--line:#d0d7de;--text:#1f2328;--muted:#57606a;--accent:#0b5cad;
          --up:#1a7f37;--late:#bf8700;--down:#cf222e;--remote:#6e7781;--busy:#8250df}
        *{box-sizing:border-box}
        body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;background:var(--bg);color:var(--text)}
        button,input,select{font:inherit}
        .top{position:sticky;top:0;z-index:5;display:flex;flex-wrap:wrap;align-items:center;gap:6px 18px;padding:8px 20px;background:#0d1f33;color:#fff}
        .brand{display:flex;align-items:center;gap:8px;color:#fff;font-weight:700;font-size:17px;text-decoration:none}
        .logo{width:18px;height:18px;border-radius:50%;background:radial-gradient(circle at 50% 30%,#fff 0 3px,transparent 3.5px),radial-gradient(circle at 25% 70%,#fff 0 3px,transparent 3.5px),radial-gradient(circle at 75% 70%,#fff 0 3px,transparent 3.5px),#2f81f7}
        nav{display:flex;gap:2px;flex-wrap:wrap}
        nav a{color:#c9d1d9;text-decoration:none;padding:6px 12px;border-radius:6px}
        nav a:hover{background:rgba(255,255,255,.08)}
        nav a.active{background:#2f81f7;color:#fff}
        .conn{margin-left:auto;font-size:12px;color:#9fb0c2}
        .conn.bad{color:#ff8182}
        .top .ghost{color:#c9d1d9;border-color:#3d4f63}
        main{padding:18px 20px;max-width:1400px;margin:0 auto}
        .muted{color:var(--muted)}.small{font-size:12px}
        .cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:14px}
        .card{flex:1 1 150px;background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
        .card b{display:block;font-size:22px}.card span{color:var(--muted);font-size:12px}
        .card.down b{color:var(--down)}.card.up b{color:var(--up)}
        .table-wrap{background:var(--panel);border:1px solid var(--line);border-radius:8px;overflow:auto}
        table.grid{width:100%;border-collapse:collapse}
        .grid th{text-align:left;font-size:12px;font-weight:600;color:var(--muted);background:#f6f8fa;padding:8px 10px;border-bottom:1px solid var(--line);white-space:nowrap}
        .grid td{padding:8px 10px;border-bottom:1px solid #eaeef2;vertical-align:top}
        .grid tr:last-child td{border-bottom:0}
        .mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:12px;word-break:break-all}
        .peer-name{font-weight:600;display:flex;align-items:center;gap:8px}
        .dot{flex:none;width:10px;height:10px;border-radius:50%;background:var(--up)}
        tr.peer.late .dot{background:var(--late)}
        tr.peer.down .dot{background:var(--down)}
        tr.peer.down td{background:#ffebe9}
        tr.peer.down .peer-name{color:var(--down)}
        .state{font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:var(--up)}
        tr.peer.late .state{color:var(--late)}tr.peer.down .state{color:var(--down)}
        .addrs{max-width:380px}
        .addrs div{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
        .bar{height:6px;background:#eaeef2;border-radius:3px;margin-top:4px;min-width:80px}
        .bar i{display:block;height:100%;border-radius:3px;background:var(--accent)}
        .alert{color:var(--down);font-size:12px}
        td.ping{white-space:nowrap}
        .toolbar{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:10px}
        .toolbar input,.toolbar select{padding:7px 9px;border:1px solid var(--line);border-radius:6px;background:#fff;min-width:0}
        #pin-search{flex:1 1 260px}#pin-cid{flex:2 1 300px}#pin-name{flex:1 1 160px}#pin-replication{width:120px}
        button{padding:7px 14px;border:1px solid var(--accent);border-radius:6px;background:var(--accent);color:#fff;cursor:pointer}
        button.ghost{background:transparent;color:var(--accent);border-color:var(--line)}
        button.small{padding:3px 9px;font-size:12px}
        button.danger{background:var(--down);border-color:var(--down);color:#fff}
        button:disabled{opacity:.5;cursor:default}
        .dropzone{display:block;border:2px dashed #afb8c1;border-radius:8px;padding:18px;text-align:center;color:var(--muted);background:#fafbfc;margin-bottom:10px;cursor:pointer}
        .dropzone.over{border-color:var(--accent);background:#ddf4ff;color:var(--accent)}
        .dropzone input{display:none}
        .upload{display:grid;grid-template-columns:minmax(120px,1fr) 2fr auto;gap:4px 12px;align-items:center;background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin-bottom:8px}
        .upload>*{min-width:0}
        .upload progress{width:100%;height:10px}
        .upload .what{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
        .upload .note{grid-column:1/-1;font-size:12px;color:var(--muted);overflow-wrap:anywhere}
        .upload[data-state=pinned] .st{color:var(--up)}.upload[data-state=error] .st{color:var(--down)}
        .chips{display:flex;flex-wrap:wrap;gap:4px}
        .chip{display:inline-block;padding:1px 7px;border-radius:10px;font-size:11px;background:#eaeef2;color:var(--text);white-space:nowrap}
        .chip.st-pinned{background:#dafbe1;color:#116329}
        .chip.st-pinning,.chip.st-pin_queued,.chip.st-unpinning,.chip.st-unpin_queued{background:#fbefff;color:var(--busy)}
        .chip.st-remote,.chip.st-unpinned{background:#f6f8fa;color:var(--remote)}
        .chip.st-pin_error,.chip.st-unpin_error,.chip.st-cluster_error,.chip.st-unexpectedly_unpinned{background:#ffebe9;color:var(--down)}
        .actions{white-space:nowrap;text-align:right}
        .actions button{margin-left:4px}
        .pager{display:flex;align-items:center;justify-content:center;gap:14px;margin:12px 0}
        .graph-box{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
        #graph{flex:3 1 520px;background:var(--panel);border:1px solid var(--line);border-radius:8px;min-height:300px}
        #graph svg{display:block;width:100%;height:auto}
        .legend{flex:1 1 220px;background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
        .legend h3{margin:0 0 8px;font-size:13px}
        .legend div{display:flex;align-items:center;gap:10px;margin:6px 0;font-size:12px}
        .legend svg{flex:none}
        .charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:14px}
        .chart{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
        .chart h3{margin:0 0 2px;font-size:13px}.chart p{margin:0 0 6px;font-size:11px;color:var(--muted)}
        .chart svg{display:block;width:100%;height:auto}
        .chart .keys{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:11px;color:var(--muted)}
        .chart .keys i{display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}
        .toast{position:fixed;left:50%;bottom:18px;transform:translateX(-50%);background:#0d1f33;color:#fff;padding:9px 16px;border-radius:8px;max-width:90vw;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:10}
        .toast.bad{background:var(--down)}
        @media (max-width:760px){
          main{padding:12px}
          .top{padding:8px 12px}
          .charts{grid-template-columns:1fr}
          table.grid,.grid tbody,.grid tr,.grid td{display:block;width:100%}
          .grid thead{display:none}
          .grid tr{border-bottom:1px solid var(--line);padding:6px 0}
          .grid td{border:0;padding:3px 12px}
          .grid td[data-label]::before{content:attr(data-label);display:inline-block;min-width:110px;color:var(--muted);font-size:12px}
          .addrs{max-width:none}
          .actions{text-align:left}
          .upload{grid-template-columns:1fr}
        }
        """#
}
