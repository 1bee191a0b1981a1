"""The Pinning Service API of a running peer against the official spec.

Usage: psa.py <API base URL> <IPFS RPC API base URL (…/api/v0)> <spec YAML>
       psa.py --auth <API base URL> <REST API base URL> <spec YAML> <user> <password>

With --auth (a daemon whose api.restapi and api.pinsvcapi have these basic_auth_credentials):
no token and a bad token are 401 with the spec's Failure; a token from the REST API's
`POST /token` passes; schemathesis runs with that token (fewer examples).

1. schemathesis (examples and fuzzing phases, a fixed seed, a bounded number of examples)
   with the checks not_a_server_error, status_code_conformance, content_type_conformance and
   response_schema_conformance. (Its coverage phase is left out: schemathesis 4.32.5 crashes in
   it on this spec, inside its own generator.)
2. A client's walk: content added to the peer's IPFS node, 12 requests made (two for one CID),
   each reaching `pinned`; pages of 5 walked with `before` see each request once, newest first;
   replace and delete; every answer validated against the spec's schemas.
"""
import base64
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import jsonschema_rs
import yaml

auth_mode = sys.argv[1] == "--auth"
args = sys.argv[2:] if auth_mode else sys.argv[1:]
base, ipfs, spec_path = args[0], args[1], args[2]
token = None
with open(spec_path) as f:
    spec = yaml.safe_load(f)


def schema(name):
    """The spec's component schema `name`, with the other components it refers to."""
    return {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}


def validate(instance, against):
    jsonschema_rs.validate(against, instance)


def call(method, path, body=None, query=None, headers=None):
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def expect(condition, what):
    if not condition:
        print(f"psa: FAILED: {what}")
        sys.exit(1)


def run_schemathesis(examples=150):
    started = time.time()
    extra = ["-H", f"Authorization: Bearer {token}"] if token else []
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", spec_path, "--url", base,
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
         "--phases", "examples,fuzzing", "--max-examples", str(examples), "--seed", "27", "--workers", "2",
         "--request-timeout", "20", "--suppress-health-check", "all", "--no-color"] + extra,
        capture_output=True, text=True, timeout=300)
    summary = [l for l in result.stdout.splitlines() if "passed" in l or "failed" in l or "error" in l.lower()]
    if result.returncode != 0:
        print(result.stdout[-6000:])
        print(result.stderr[-2000:])
        expect(False, "schemathesis found answers outside the spec (above)")
    print(f"psa: schemathesis passed in {time.time() - started:.0f} s: {summary[-1].strip('= ') if summary else ''}")


def add(data):
    boundary = "psaboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(ipfs + "/add?pin=false", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read().splitlines()[-1])["Hash"]


def client_walk():
    cids = [add(f"pinning service content {i}".encode()) for i in range(11)]
    made = []
    for i, cid in enumerate(cids + [cids[0]]):
        status, s = call("POST", "/pins", {"cid": cid, "name": f"item {i}", "meta": {"app": "compat"}})
        expect(status == 202, f"POST /pins answered {status} {s}")
        validate(s, schema("PinStatus"))
        made.append(s["requestid"])
    expect(len(set(made)) == 12, "two requests for one CID got one id")
    deadline = time.time() + 60
    while True:
        status, page = call("GET", "/pins", query={"limit": "1000"})
        validate(page, schema("PinResults"))
        if page["count"] == 12:
            break
        expect(time.time() < deadline, f"only {page['count']} of 12 requests pinned after 60 s")
        time.sleep(0.2)
    seen, before = [], None
    while True:
        q = {"limit": "5", "meta": json.dumps({"app": "compat"})}
        if before:
            q["before"] = before
        status, page = call("GET", "/pins", query=q)
        expect(status == 200, f"GET /pins answered {status}")
        validate(page, schema("PinResults"))
        seen += [r["requestid"] for r in page["results"]]
        if page["count"] == len(page["results"]):
            break
        before = page["results"][-1]["created"]
    expect(seen == list(reversed(made)), "a walk with before did not see each request once, newest first")
    status, new = call("POST", f"/pins/{made[0]}", {"cid": cids[1], "name": "replaced"})
    expect(status == 202 and new["requestid"] != made[0], f"replace answered {status}")
    validate(new, schema("PinStatus"))
    status, gone = call("GET", f"/pins/{made[0]}")
    expect(status == 404, f"the replaced request answered {status}")
    validate(gone, schema("Failure"))
    for rid in [new["requestid"]] + made[1:]:
        status, _ = call("DELETE", f"/pins/{rid}")
        expect(status == 202, f"DELETE answered {status}")
    status, page = call("GET", "/pins", query={"status": "queued,pinning,pinned,failed"})
    expect(page["count"] == 0, f"{page['count']} requests left after deleting every one")
    print("psa: client walk passed (12 requests, pages of 5, replace, delete)")


def auth_checks(rest, user, password):
    global token
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    for headers in [{}, {"Authorization": "Bearer junk"}, {"Authorization": "Basic " + base64.b64encode(b"x:y").decode()}]:
        status, failure = call("GET", "/pins", headers=headers)
        expect(status == 401 and failure["error"]["reason"] == "UNAUTHORIZED", f"{headers}: answered {status} {failure}")
        validate(failure, schema("Failure"))
    req = urllib.request.Request(rest + "/token", method="POST", headers={"Authorization": "Basic " + basic})
    with urllib.request.urlopen(req, timeout=30) as r:
        token = json.loads(r.read())["token"]
    status, page = call("GET", "/pins")
    expect(status == 200, f"a REST API token answered {status}")
    status, _ = call("GET", "/pins", headers={"Authorization": "Basic " + basic})
    expect(status == 200, f"basic auth with the credentials answered {status}")
    print("psa: auth passed (no token, a bad token, bad credentials: 401; a REST API token and the credentials: 200)")


if auth_mode:
    auth_checks(args[1], args[3], args[4])
    run_schemathesis(examples=40)
else:
    run_schemathesis()
    client_walk()
