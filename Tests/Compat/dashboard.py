"""The dashboard (/ui/) in a real headless Chromium (Debian's chromium and chromium-driver,
driven by selenium from PyPI), against a three-peer cluster started by .ci/compat-ui.

Arguments: REST API URL of peer 1 (basic auth admin:PASSWORD), the password, peer 3's pid,
the CID and name of a pin added before the page opened, peer 1's IPFS API URL, the pinmeshctl
binary, a work folder, a folder for the screenshots.

Checks: without credentials /ui/ answers 401 with a sign-in form (HTTP and in the browser),
a wrong password is refused on the page, the right one obtains a token (POST /token) and the
dashboard opens; every peer is listed by name, up; the pin added before is listed with its
status on each peer; a page is 20 pins read from the GET /pins stream, which is left one line
after it, and Next/Previous walk every pin once; search by name or (part of) a CID and status
filter; a CID pinned through the page's form shows up
in GET /pins and, unpinned through the page, disappears from it; files dropped on the page
(a synthetic drop event with a File) and chosen with the file input upload through POST /add
with a progress bar and end PINNED (GET /pins/<cid>), with the CID of the bytes on disk;
a pin removed behind the cluster's back on peer 1's IPFS node shows under the error filter with
a Recover button that pins it again;
the graph is an SVG with every peer and a legend; the activity view draws one line per peer:
its pinned_total counter as GET /monitor/metrics/pinned_total gives it, a replication -1 pin
counted once on each peer and a replication 1 pin only on its allocation, bytes in and out
(cluster transport and IPFS) showing a file fetched by two peers from its one holder; a killed
peer turns red within its ping TTL (plus the poll's 2 s and slack); every view fits a phone's
width; sign-out revokes the token. Every screenshot is decoded (PNG through zlib) and must
not be blank.
"""

import base64
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

API, PASSWORD, PEER3_PID, BEFORE_CID, BEFORE_NAME, IPFS_API, CTL, WORK, SHOTS = sys.argv[1:10]
AUTH = "Basic " + base64.b64encode(("admin:" + PASSWORD).encode()).decode()
PING_TTL = 3.0  # cluster.monitor_ping_interval 1s × 3
failures = []
passed = 0


def check(ok, what):
    global passed
    if ok:
        passed += 1
        print("ok:", what)
    else:
        failures.append(what)
        print("FAIL:", what)


def http(method, path, auth=True, body=None, headers=None):
    req = urllib.request.Request(API + path, method=method, data=body)
    if auth:
        req.add_header("Authorization", AUTH)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


BOUNDARY = "pinmeshui"


def multipart(filename, data):
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def pins_stream():
    """Every CID → GlobalPinInfo of GET /pins (read whole: this is the test's view, not the page's)."""
    status, _, body = http("GET", "/pins")
    if status == 204:
        return {}
    assert status == 200, (status, body[:200])
    out = {}
    for line in body.decode().splitlines():
        if line.strip():
            g = json.loads(line)
            out[g["cid"]] = g
    return out


def eventually(f, seconds=30, step=0.2):
    end = time.time() + seconds
    while True:
        try:
            v = f()
            if v:
                return v
        except StaleElementReferenceException:
            pass
        if time.time() > end:
            return None
        time.sleep(step)


def png_pixels(path):
    """(width, height, distinct colours, share of the most common colour) of an 8-bit RGB(A) PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            bpp = 4 if colour == 6 else 3
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    counts = {}
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % 4 == 0:  # every fourth row is plenty to count colours
            for x in range(0, stride, bpp * 2):
                key = bytes(line[x:x + 3])
                counts[key] = counts.get(key, 0) + 1
        prev = line
    total = sum(counts.values())
    return width, height, len(counts), max(counts.values()) / total


def viewport(width, height, mobile):
    DRIVER[0].execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


DRIVER = [None]
desktop = lambda: viewport(1280, 800, False)
phone = lambda: viewport(390, 844, True)


def shot(driver, name):
    path = os.path.join(SHOTS, name + ".png")
    driver.save_screenshot(path)
    w, h, colours, top = png_pixels(path)
    check(colours >= 12 and top < 0.97, f"screenshot {name}.png ({w}x{h}) is not blank: {colours} colours, the commonest covers {top:.0%}")
    return path


def rows(driver, css):
    return driver.find_elements(By.CSS_SELECTOR, css)


def attr_rows(driver, css, attr):
    return [e.get_attribute(attr) for e in rows(driver, css)]


def main():
    os.makedirs(SHOTS, exist_ok=True)
    # ---- over HTTP: the sign-in page, the files' types, the cookie scoped to /ui
    status, headers, body = http("GET", "/ui/", auth=False)
    check(status == 401 and headers["Content-Type"].startswith("text/html") and b'id="login-form"' in body,
          "GET /ui/ without credentials: 401 with the sign-in form")
    for path, ctype in [("/ui/", "text/html"), ("/ui/app.js", "text/javascript"), ("/ui/app.css", "text/css"), ("/ui/favicon.svg", "image/svg+xml")]:
        status, headers, _ = http("GET", path)
        check(status == 200 and headers["Content-Type"].startswith(ctype), f"GET {path} with basic auth: 200 {ctype}")
    status, _, _ = http("GET", "/ui/../id", auth=False)
    check(status in (401, 404), "a path out of /ui/ is not served without credentials")

    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800",
              "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-US"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)
    DRIVER[0] = driver
    desktop()
    try:
        run(driver)
    finally:
        for entry in driver.get_log("browser"):
            if entry["level"] in ("SEVERE",) and "favicon" not in entry["message"] and "401" not in entry["message"]:
                print("browser console:", entry["message"])
        driver.quit()


def run(driver):
    # ---- sign in
    driver.get(API + "/ui/")
    check(eventually(lambda: rows(driver, "#login-form"), 10) and not rows(driver, "#peers-table"),
          "the page asks for credentials (the sign-in form, no dashboard)")
    shot(driver, "signin")
    driver.find_element(By.ID, "user").send_keys("admin")
    driver.find_element(By.ID, "password").send_keys("wrong")
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    check(eventually(lambda: "wrong" in driver.find_element(By.ID, "login-error").text, 10), "a wrong password is refused on the page")
    driver.find_element(By.ID, "password").clear()
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    check(eventually(lambda: rows(driver, "#peers-table"), 15), "signing in obtains a token and opens the dashboard")
    token = driver.get_cookie("pinmesh-ui")
    check(token is not None and token.get("path") == "/ui", "the token is kept in a cookie scoped to /ui")
    status, _, _ = http("GET", "/id", auth=False, headers={"Cookie": "pinmesh-ui=" + (token or {}).get("value", "")})
    check(status == 401, "the dashboard cookie does not authorize the API's routes")

    # ---- peers
    names = lambda: sorted(attr_rows(driver, "#peers-body tr.peer", "data-name"))
    check(eventually(lambda: names() == ["ui1", "ui2", "ui3"], 30), f"the peers view lists every peer by name: {names()}")
    check(eventually(lambda: attr_rows(driver, "#peers-body tr.peer", "data-state") == ["up"] * 3, 20), "every peer is up (green)")
    check(eventually(lambda: all(c.text not in ("", "–") for c in rows(driver, "#peers-body tr.peer td[data-label='Free space']")), 20),
          "free space is shown for every peer")
    row1 = driver.find_element(By.CSS_SELECTOR, "#peers-body tr.peer[data-name=ui1]").text
    check("/tcp/" in row1 and "ago" in row1, "a peer's row shows its addresses and its ping age")
    time.sleep(1.5)  # the README picture: let one more poll fill every column
    shot(driver, "peers-1280x800")

    # ---- pins: paging through the stream (more pins than a page), the pin added before,
    # search, filter
    names_added = [f"page-{i:02d}" for i in range(22)]
    for i, name in enumerate(names_added):
        status, _, _ = http("POST", "/add?name=" + name, body=multipart(name, random.Random(100 + i).randbytes(1000)),
                            headers={"Content-Type": "multipart/form-data; boundary=" + BOUNDARY})
        assert status == 200, status
    everything = pins_stream()
    driver.get(API + "/ui/#pins")
    page_cids = lambda: attr_rows(driver, "#pins-body tr.pin", "data-cid")
    check(eventually(lambda: len(page_cids()) == 20, 20), f"a page lists 20 pins of the {len(everything)}")
    first = page_cids()
    status_line = driver.find_element(By.ID, "pins-status").text
    check("stopped there" in status_line and "21 read" in status_line, f"reading the stream stopped one line after the page: {status_line!r}")
    check(first == sorted(everything)[:20], "the first page is the stream's first 20 pins")
    check(not driver.find_element(By.ID, "pins-prev").is_enabled() and driver.find_element(By.ID, "pins-next").is_enabled(), "first page: Next, no Previous")
    driver.find_element(By.ID, "pins-next").click()
    check(eventually(lambda: page_cids() and page_cids() != first, 20), "Next shows the second page")
    second = page_cids()
    check(sorted(first + second) == sorted(everything) and not driver.find_element(By.ID, "pins-next").is_enabled(),
          f"the two pages hold every pin of GET /pins once ({len(first)} + {len(second)} = {len(everything)})")
    driver.find_element(By.ID, "pins-prev").click()
    check(eventually(lambda: page_cids() == first, 20), "Previous shows the first page again")
    pin_row = lambda cid: rows(driver, f"#pins-body tr.pin[data-cid='{cid}']")
    chips = lambda cid: [(c.get_attribute("data-peer"), c.get_attribute("data-status")) for c in rows(driver, f"#pins-body tr.pin[data-cid='{cid}'] .chip")]
    search = driver.find_element(By.ID, "pin-search")

    def find(text):
        search.clear()
        search.send_keys(text)

    find(BEFORE_NAME)
    check(eventually(lambda: attr_rows(driver, "#pins-body tr.pin", "data-cid") == [BEFORE_CID], 10),
          "the pins view lists the pin added before the page opened (search by name)")
    check(eventually(lambda: len(chips(BEFORE_CID)) == 3 and all(s == "pinned" for _, s in chips(BEFORE_CID)), 30),
          f"its status is shown on every peer: {chips(BEFORE_CID)}")
    Select(driver.find_element(By.ID, "pin-filter")).select_by_value("error")
    check(eventually(lambda: not rows(driver, "#pins-body tr.pin"), 10), "the status filter (error) hides the pinned pin")
    Select(driver.find_element(By.ID, "pin-filter")).select_by_value("pinned")
    check(eventually(lambda: pin_row(BEFORE_CID), 10), "the status filter (pinned) lists it")
    Select(driver.find_element(By.ID, "pin-filter")).select_by_value("")
    find("page-0")
    check(eventually(lambda: sorted(attr_rows(driver, "#pins-body tr.pin", "data-name")) == names_added[:10], 10),
          "a search by part of a name finds every pin it matches")
    find(BEFORE_CID)
    check(eventually(lambda: attr_rows(driver, "#pins-body tr.pin", "data-cid") == [BEFORE_CID], 10), "search by the whole CID finds the pin")
    find(BEFORE_CID[5:20].lower())
    check(eventually(lambda: attr_rows(driver, "#pins-body tr.pin", "data-cid") == [BEFORE_CID], 10), "and by part of it, in any case")
    find("no-such-pin")
    check(eventually(lambda: not rows(driver, "#pins-body tr.pin") and "No pin matches" in driver.find_element(By.ID, "pins-status").text, 10),
          "a search that matches nothing lists nothing")

    # ---- pin and unpin through the page
    req = urllib.request.Request(IPFS_API + "/add?pin=false&quieter=true", data=multipart("topin.bin", random.Random(28).randbytes(40_000)),
                                 method="POST", headers={"Content-Type": "multipart/form-data; boundary=" + BOUNDARY})
    cid = json.loads(urllib.request.urlopen(req, timeout=30).read().decode().strip().splitlines()[-1])["Hash"]
    driver.find_element(By.ID, "pin-cid").send_keys(cid)
    driver.find_element(By.ID, "pin-name").send_keys("ui-pinned")
    driver.find_element(By.CSS_SELECTOR, "#pin-form button").click()
    check(eventually(lambda: cid in pins_stream() and pins_stream()[cid]["name"] == "ui-pinned", 20),
          "a CID pinned through the page's form shows up in GET /pins with its name")
    find(cid)
    check(eventually(lambda: pin_row(cid), 20), "and in the page's list")
    shot(driver, "pins-1280x800")

    def unpin():
        b = rows(driver, f"#pins-body tr.pin[data-cid='{cid}'] button.unpin")
        if not b:
            return False
        b[0].click()
        return eventually(lambda: "Confirm" in b[0].text, 3)

    check(eventually(unpin, 15), "unpin asks for a confirmation first")
    time.sleep(0.3)
    check(cid in pins_stream(), "nothing is unpinned before the confirmation")
    b = rows(driver, f"#pins-body tr.pin[data-cid='{cid}'] button.unpin")
    if b:
        b[0].click()
    check(eventually(lambda: cid not in pins_stream(), 20), "unpinned through the page, it disappears from GET /pins")
    check(eventually(lambda: not pin_row(cid), 20), "and from the page's list")
    find("")

    # ---- uploads: a synthetic drop of a File, and the file input with a file from disk
    drop = random.Random(29).randbytes(700_000)
    open(os.path.join(WORK, "dropped.bin"), "wb").write(drop)
    expected = subprocess.run([CTL, "add", "--only-hash", "-Q", os.path.join(WORK, "dropped.bin")], capture_output=True, text=True, check=True).stdout.strip()
    driver.execute_script("""
        const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'dropped.bin', { type: 'application/octet-stream' }));
        const zone = document.getElementById('dropzone');
        zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    """, base64.b64encode(drop).decode())
    up = lambda name: rows(driver, f".upload[data-name='{name}']")
    check(eventually(lambda: up("dropped.bin"), 10), "a dropped file starts an upload with a progress bar")
    check(eventually(lambda: up("dropped.bin")[0].get_attribute("data-state") == "pinned", 120),
          f"the dropped file's upload ends PINNED on the page ({up('dropped.bin')[0].text if up('dropped.bin') else 'none'})")
    got = up("dropped.bin")[0].get_attribute("data-cid")
    check(got == expected, f"its CID is the one of the bytes dropped ({got} == {expected})")
    check(float(driver.execute_script("return document.querySelector(\".upload[data-name='dropped.bin'] progress\").value")) == 1.0,
          "its progress bar is full")
    status, _, body = http("GET", "/pins/" + expected)
    g = json.loads(body) if status == 200 else {}
    allocated = [g["peer_map"].get(p, {}).get("status") for p in g.get("allocations") or g.get("peer_map", {})]
    check(status == 200 and allocated and all(s == "pinned" for s in allocated) and g.get("name") == "dropped.bin",
          f"GET /pins/<cid> says PINNED on every allocation: {allocated}")
    chosen = random.Random(30).randbytes(300_000)
    path = os.path.join(WORK, "chosen.bin")
    open(path, "wb").write(chosen)
    expected2 = subprocess.run([CTL, "add", "--only-hash", "-Q", path], capture_output=True, text=True, check=True).stdout.strip()
    driver.find_element(By.ID, "file-input").send_keys(path)
    check(eventually(lambda: up("chosen.bin") and up("chosen.bin")[0].get_attribute("data-state") == "pinned", 120)
          and up("chosen.bin")[0].get_attribute("data-cid") == expected2, "a file chosen with the file input uploads and ends PINNED with its CID")
    shot(driver, "pins-uploads-1280x800")

    # ---- recover: the chosen file unpinned behind the cluster's back on peer 1's IPFS node
    urllib.request.urlopen(urllib.request.Request(IPFS_API + "/pin/rm?arg=" + expected2, method="POST"), timeout=30).read()
    find(expected2)
    Select(driver.find_element(By.ID, "pin-filter")).select_by_value("error")
    check(eventually(lambda: ("unexpectedly_unpinned" in [s for _, s in chips(expected2)]) and rows(driver, f"#pins-body tr.pin[data-cid='{expected2}'] button.recover"), 30),
          f"a pin unpinned behind the cluster's back is listed under the error filter with a Recover button: {chips(expected2)}")
    shot(driver, "pins-error-1280x800")
    rows(driver, f"#pins-body tr.pin[data-cid='{expected2}'] button.recover")[0].click()
    local = lambda: json.loads(http("GET", "/pins/" + expected2)[2])["peer_map"]
    check(eventually(lambda: all(i["status"] == "pinned" for i in local().values()), 30), "Recover pins it again: GET /pins/<cid> says pinned everywhere")
    Select(driver.find_element(By.ID, "pin-filter")).select_by_value("")
    find("")

    # ---- graph and activity
    driver.get(API + "/ui/#graph")
    check(eventually(lambda: len(rows(driver, "#graph svg g.node")) == 3, 20), "the graph draws every peer as SVG")
    check(eventually(lambda: len(rows(driver, "#graph svg line.edge-cluster")) == 3, 20), "with the three cluster links between them")
    check(len(rows(driver, "#graph-legend div")) >= 8, "and a legend")
    shot(driver, "graph-1280x800")
    activity(driver)

    # ---- a phone's width
    phone()
    for view, selector in [("graph", "#graph svg g.node"), ("activity", "#chart-pins svg polyline")]:
        driver.get(API + "/ui/#" + view)
        eventually(lambda: rows(driver, selector), 20)
        width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        check(width[0] <= width[1] + 1, f"the {view} view fits a phone's width {width}")
        shot(driver, view + "-phone")
    driver.get(API + "/ui/#peers")
    eventually(lambda: len(rows(driver, "#peers-body tr.peer")) == 3, 20)
    width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    check(width[0] <= width[1] + 1, f"the peers view fits a phone's width without scrolling sideways {width}")
    shot(driver, "peers-phone")
    driver.get(API + "/ui/#pins")
    eventually(lambda: rows(driver, "#pins-body tr.pin"), 20)
    width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    check(width[0] <= width[1] + 1, f"the pins view fits a phone's width {width}")
    shot(driver, "pins-phone")
    desktop()

    # ---- a killed peer turns red
    driver.get(API + "/ui/#peers")
    check(eventually(lambda: attr_rows(driver, "#peers-body tr.peer", "data-state") == ["up"] * 3, 20), "all peers up before the kill")
    os.kill(int(PEER3_PID), signal.SIGKILL)
    killed = time.time()
    red = eventually(lambda: driver.find_element(By.CSS_SELECTOR, "#peers-body tr.peer[data-name=ui3]").get_attribute("data-state") == "down", 20, 0.1)
    took = time.time() - killed
    check(red and took <= PING_TTL + 2, f"the killed peer turned red {took:.1f} s after the kill (its ping TTL is {PING_TTL:.0f} s; 2 s of slack)")
    colour = driver.execute_script("return getComputedStyle(document.querySelector('#peers-body tr.peer[data-name=ui3] .dot')).backgroundColor")
    check(colour == "rgb(207, 34, 46)", f"its dot is red ({colour})")
    check(sorted(attr_rows(driver, "#peers-body tr.peer:not(.down)", "data-name")) == ["ui1", "ui2"], "the others stay up")
    check(eventually(lambda: "ping" in driver.find_element(By.CSS_SELECTOR, "#peers-body tr.peer[data-name=ui3] td[data-label='Alerts']").text, 20),
          "its ping alert is listed")
    shot(driver, "peers-down-1280x800")
    driver.get(API + "/ui/#graph")
    check(eventually(lambda: rows(driver, "#graph svg g.node.down"), 20), "the graph draws the killed peer red")

    # ---- sign out revokes the token
    value = driver.get_cookie("pinmesh-ui")["value"]
    driver.find_element(By.ID, "signout").click()
    check(eventually(lambda: rows(driver, "#login-form"), 15), "signing out shows the sign-in form again")
    status, _, _ = http("GET", "/id", auth=False, headers={"Authorization": "Bearer " + value})
    check(status == 401, "and the token it used is revoked")


def activity(driver):
    """The Activity view's per-peer plots, from the counters every peer publishes: a pin on every
    peer (replication -1, which has no allocation by name) counts once on each peer, a pin at
    replication 1 only on the peer it went to; its blocks show in the receivers' bytes in and the
    holder's bytes out."""
    names = {}
    status, _, body = http("GET", "/peers")
    for line in body.decode().splitlines():
        if line.strip():
            p = json.loads(line)
            names[p["id"]] = p["peername"]
    ids = sorted(names, key=lambda i: names[i])
    driver.get(API + "/ui/#activity")

    def series(chart, kind=None):
        """peer → (the counter's growth since the page opened, the last rate plotted), read in
        one script (the plots are redrawn at every poll)."""
        got = driver.execute_script("""
            return [...document.querySelectorAll('#' + arguments[0] + ' svg polyline[data-peer]')].map((e) =>
              [e.dataset.peer, e.dataset.kind || null, Number(e.dataset.total), Number(e.dataset.last)]);""", chart)
        return {p: (total, last) for p, k, total, last in got if kind is None or k == kind}

    check(eventually(lambda: sorted(series("chart-pins")) == sorted(ids), 30), "pins per second: one line per peer")
    for chart in ["chart-bw-in", "chart-bw-out"]:
        for kind in ["cluster", "ipfs"]:
            check(eventually(lambda: sorted(series(chart, kind)) == sorted(ids), 30), f"{chart}: a {kind} line for every peer")
    check(eventually(lambda: all(t > 0 for t, _ in series("chart-bw-in", "cluster").values()), 20),
          "every peer's cluster transport bytes in grow (its pings and metrics)")
    check(eventually(lambda: rows(driver, "#chart-queue svg polyline"), 20), "the pin queue is plotted")
    check(rows(driver, "#chart-alerts svg"), "the activity view has the alerts plot")
    def api_pinned():
        status, _, body = http("GET", "/monitor/metrics/pinned_total")
        return {m["peer"]: int(m["value"]) for m in json.loads(body)} if status == 200 else {}

    def page_pinned():
        return dict(driver.execute_script("""return [...document.querySelectorAll('#chart-pins svg polyline[data-peer]')].map((e) =>
            [e.dataset.peer, Number(e.dataset.value)]);"""))

    check(eventually(lambda: (lambda a, b: len(a) == 3 and a == b)(api_pinned(), page_pinned()), 20),
          f"each peer's line is its pinned_total metric of GET /monitor/metrics/pinned_total ({api_pinned()})")

    def settled():  # the earlier pins' operations (the recover) have finished and been published
        before = api_pinned()
        time.sleep(3)
        return before == api_pinned() and series("chart-pins") and all(v == before[p] for p, v in page_pinned().items())

    check(eventually(settled, 30), "the pin counters are steady before the next pins")
    start = {p: t for p, (t, _) in series("chart-pins").items()}
    bw_start = {(c, k): series(c, k) for c in ["chart-bw-in", "chart-bw-out"] for k in ["cluster", "ipfs"]}
    # The page has been open since the sign-in (the views are the same document): the 22 pins
    # added for paging (replication -1) reached pinned on every peer since.
    check(all(v >= 22 for v in start.values()), f"every peer counted the 22 pins added since the page opened: { {names[p]: v for p, v in start.items()} }")

    def ipfs_add(seed, size):
        req = urllib.request.Request(IPFS_API + "/add?pin=false&quieter=true", data=multipart(f"act{seed}.bin", random.Random(seed).randbytes(size)),
                                     method="POST", headers={"Content-Type": "multipart/form-data; boundary=" + BOUNDARY})
        return json.loads(urllib.request.urlopen(req, timeout=30).read().decode().strip().splitlines()[-1])["Hash"]

    def pinned_on(cid):
        status, _, body = http("GET", "/pins/" + cid)
        g = json.loads(body) if status == 200 else {}
        return sorted(p for p, i in g.get("peer_map", {}).items() if i.get("status") == "pinned")

    size = 600_000
    everywhere = ipfs_add(281, size)  # only on peer 1's IPFS node: peers 2 and 3 must fetch it
    status, _, body = http("POST", f"/pins/{everywhere}?replication-min=-1&replication-max=-1&name=act-everywhere")
    check(status == 200, f"pin with replication -1 of {everywhere}: {status} {body[:200]!r}")
    check(eventually(lambda: pinned_on(everywhere) == sorted(ids), 60), "the replication -1 pin is pinned on every peer (GET /pins/<cid>)")
    grown = lambda: {p: series("chart-pins").get(p, (0, 0))[0] - start.get(p, 0) for p in ids}
    check(eventually(lambda: grown() == {p: 1 for p in ids}, 20),
          f"pins per second: the replication -1 pin reached pinned once on each peer ({ {names[p]: v for p, v in grown().items()} })")
    check(all(series("chart-pins")[p][1] > 0 for p in ids), f"and each peer's line stands above 0 pins/s now: { {names[p]: series('chart-pins')[p][1] for p in ids} }")

    one = ipfs_add(282, 20_000)
    status, _, body = http("POST", f"/pins/{one}?replication-min=1&replication-max=1&name=act-one")
    g = json.loads(body) if status == 200 else {}
    allocated = g.get("allocations") or []
    check(status == 200 and len(allocated) == 1, f"pin with replication 1: allocated to {allocated}")
    check(eventually(lambda: pinned_on(one) == allocated, 60), "it is pinned on its one allocation")
    want = {p: 1 + (1 if p in allocated else 0) for p in ids}
    check(eventually(lambda: grown() == want, 20), f"pins per second: the replication 1 pin counts only on its peer ({ {names[p]: v for p, v in grown().items()} })")
    time.sleep(3)  # three more publications of every peer's counter: nothing else pinned
    check(grown() == want, f"and no other peer counted it ({ {names[p]: v for p, v in grown().items()} })")

    def bw_grown(chart, p):
        return sum(series(chart, k).get(p, (0, 0))[0] - bw_start[(chart, k)].get(p, (0, 0))[0] for k in ["cluster", "ipfs"])

    me, others = ids[[names[i] for i in ids].index("ui1")], [i for i in ids if names[i] != "ui1"]
    check(eventually(lambda: all(bw_grown("chart-bw-in", p) >= size for p in others), 20),
          f"bandwidth in: each peer that fetched the {size}-byte file received at least its bytes ({ {names[p]: bw_grown('chart-bw-in', p) for p in others} })")
    check(eventually(lambda: bw_grown("chart-bw-out", me) >= size, 20),
          f"bandwidth out: peer ui1, which alone held it, sent at least its bytes ({bw_grown('chart-bw-out', me)})")
    time.sleep(1.5)
    shot(driver, "activity-1280x800")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report and fail
        import traceback
        traceback.print_exc()
        failures.append(f"the test stopped: {e}")
    print(f"dashboard: {passed} passed, {len(failures)} failed")
    for f in failures:
        print("  failed:", f)
    sys.exit(1 if failures else 0)
