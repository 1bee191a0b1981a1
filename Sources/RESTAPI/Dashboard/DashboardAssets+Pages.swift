// The dashboard's HTML: the app's one page (four views switched by the URL's #fragment) and
// the sign-in page the auth check answers with (self-contained: its script and style inline,
// allowed by their hashes).

extension DashboardAssets {
    static let indexHTML = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>PinMesh dashboard</title>
        <link rel="icon" href="favicon.svg" type="image/svg+xml">
        <link rel="stylesheet" href="app.css">
        <script defer src="app.js"></script>
        <script defer src="peers.js"></script>
        <script defer src="graph.js"></script>
        <script defer src="pins.js"></script>
        <script defer src="activity.js"></script>
        </head>
        <body>
        <header class="top">
          <a class="brand" href="#peers"><span class="logo"></span>PinMesh</a>
          <nav id="nav">
            <a href="#peers" data-view="peers">Peers</a>
            <a href="#graph" data-view="graph">Graph</a>
            <a href="#pins" data-view="pins">Pins</a>
            <a href="#activity" data-view="activity">Activity</a>
          </nav>
          <span id="conn" class="conn" title="the last answer of the API">connecting…</span>
          <button id="signout" class="ghost" hidden>Sign out</button>
        </header>
        <main>
          <section id="view-peers" class="view">
            <div id="peer-summary" class="cards"></div>
            <div class="table-wrap">
              <table id="peers-table" class="grid">
                <thead><tr><th>Peer</th><th>Addresses</th><th>Version</th><th>Ping</th><th>Free space</th><th>Queue</th><th title="numpin: pins allocated to the peer by name; pins on every peer (replication -1) are not counted">Pins allocated</th><th>Alerts</th></tr></thead>
                <tbody id="peers-body"><tr><td colspan="8" class="muted">Loading the peers…</td></tr></tbody>
              </table>
            </div>
            <p class="muted small">Served by <span id="self-name">this peer</span>. A peer is red once its last ping expired (its TTL is three ping intervals); red rows show what was last known of it.</p>
          </section>
          <section id="view-graph" class="view" hidden>
            <div class="graph-box"><div id="graph"></div><div id="graph-legend" class="legend"></div></div>
            <p id="graph-note" class="muted small"></p>
          </section>
          <section id="view-pins" class="view" hidden>
            <div class="toolbar">
              <input id="pin-search" type="search" placeholder="Search by name or CID" autocomplete="off">
              <select id="pin-filter" title="only pins with this status on some peer">
                <option value="">Any status</option>
                <option value="pinned">pinned</option>
                <option value="pinning">pinning</option>
                <option value="queued">queued</option>
                <option value="error">error</option>
                <option value="remote">remote</option>
                <option value="unpinning">unpinning</option>
                <option value="unexpectedly_unpinned">unexpectedly unpinned</option>
              </select>
              <button id="pins-refresh" class="ghost">Refresh</button>
            </div>
            <form id="pin-form" class="toolbar">
              <input id="pin-cid" placeholder="CID to pin" required autocomplete="off">
              <input id="pin-name" placeholder="Name (optional)" autocomplete="off">
              <input id="pin-replication" type="number" min="-1" placeholder="Replication" title="-1: every peer; empty: the cluster's default">
              <button type="submit">Pin</button>
            </form>
            <label id="dropzone" class="dropzone">
              <input id="file-input" type="file" multiple>
              <span>Drop files here to add them to the cluster (POST /add), or click to choose.</span>
            </label>
            <div id="uploads"></div>
            <div id="pins-status" class="muted small"></div>
            <div class="table-wrap">
              <table id="pins-table" class="grid">
                <thead><tr><th>Name</th><th>CID</th><th>Status on each peer</th><th>Created</th><th></th></tr></thead>
                <tbody id="pins-body"></tbody>
              </table>
            </div>
            <div class="pager"><button id="pins-prev" class="ghost">‹ Previous</button><span id="pins-page"></span><button id="pins-next" class="ghost">Next ›</button></div>
          </section>
          <section id="view-activity" class="view" hidden>
            <div id="charts" class="charts"></div>
            <p id="activity-note" class="muted small"></p>
          </section>
        </main>
        <div id="toast" class="toast" hidden></div>
        </body>
        </html>

        """#

    static let signInStyle = #"""
        body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;background:#f3f5f8;color:#1f2328}
        main{max-width:380px;margin:12vh auto;padding:28px;background:#fff;border:1px solid #d0d7de;border-radius:10px;box-shadow:0 4px 18px rgba(0,0,0,.06)}
        h1{font-size:20px;margin:0 0 6px}p{margin:0 0 18px;color:#57606a}label{display:block;font-weight:600;margin:12px 0 4px}
        input{box-sizing:border-box;width:100%;padding:9px 10px;border:1px solid #d0d7de;border-radius:6px;font:inherit}
        button{margin-top:18px;width:100%;padding:10px;border:0;border-radius:6px;background:#0b5cad;color:#fff;font:inherit;font-weight:600;cursor:pointer}
        #login-error{min-height:1.4em;margin:12px 0 0;color:#cf222e}
        """#

    static let signInScript = #"""
        (function () {
          'use strict';
          var form = document.getElementById('login-form');
          var msg = document.getElementById('login-error');
          function b64(s) {
            var bytes = new TextEncoder().encode(s), bin = '';
            for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
            return btoa(bin);
          }
          form.addEventListener('submit', function (e) {
            e.preventDefault();
            // credentials 'omit': a refusal (401 with a Basic challenge) must not open the
            // browser's own password dialog over the page; the header is sent all the same.
            msg.textContent = 'Signing in…';
            var auth = 'Basic ' + b64(form.user.value + ':' + form.password.value);
            fetch('/token', { method: 'POST', headers: { Authorization: auth }, cache: 'no-store', credentials: 'omit' })
              .then(function (r) {
                return r.json().catch(function () { return {}; }).then(function (body) { return { status: r.status, body: body }; });
              })
              .then(function (a) {
                if (a.status !== 200 || !a.body.token) {
                  msg.textContent = a.status === 401 ? 'The user name or the password is wrong.' : (a.body.message || 'The API answered ' + a.status + '.');
                  return;
                }
                var token = a.body.token, age = '';
                try {
                  var c = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
                  if (c.exp && c.iat) age = '; Max-Age=' + Math.max(1, c.exp - c.iat);
                } catch (x) { /* a token without claims we can read: a session cookie */ }
                document.cookie = 'pinmesh-ui=' + token + '; Path=/ui; SameSite=Strict' + age + (location.protocol === 'https:' ? '; Secure' : '');
                location.replace('/ui/' + location.hash);
              })
              .catch(function (err) { msg.textContent = 'The API cannot be reached: ' + err.message; });
          });
        })();
        """#

    static let signInHTML = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Sign in · PinMesh dashboard</title>
        <style>
        """# + signInStyle + #"""
        </style>
        </head>
        <body>
        <main>
        <h1>PinMesh dashboard</h1>
        <p id="login-reason">{{reason}}</p>
        <form id="login-form">
        <label for="user">User</label><input id="user" name="user" autocomplete="username" required autofocus>
        <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
        <button type="submit">Sign in</button>
        <p id="login-error" role="alert"></p>
        </form>
        </main>
        <script>
        """# + signInScript + #"""
        </script>
        </body>
        </html>

        """#

    static let faviconSVG = #"""
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="15" fill="#0b5cad"/><circle cx="16" cy="9" r="3.5" fill="#fff"/><circle cx="9" cy="21" r="3.5" fill="#fff"/><circle cx="23" cy="21" r="3.5" fill="#fff"/><path d="M16 9L9 21L23 21Z" fill="none" stroke="#fff" stroke-width="1.6"/></svg>

        """#
}
