#!/usr/bin/env python3
"""Browser half of tests/collector/test_console.sh: drives the console in headless Chromium
(tests/collector/cdp.py) against the collector the shell half filled. Prints `ok - name` or
`not ok - name: why` per case, and `# ...` notes; saves screenshots of the main pages.

Environment: BASE (http://127.0.0.1:PORT), TOKEN (the API token), SHOTS (directory for the
screenshots), TMP (scratch directory), M3 and M4 (ids of the alerts on vm1/m3 and vm1/m4),
CHANGE (id of the herd.change alert).
"""
import http.client, http.server, json, os, re, sys, threading, urllib.parse, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402
from console_events import HOSTILE_ARGS, HOSTILE_DNS, HOSTILE_EXE, HOSTILE_PATH  # noqa: E402

BASE, TOKEN, SHOTS, TMP = (os.environ[k] for k in ("BASE", "TOKEN", "SHOTS", "TMP"))
M3, M4, CHANGE = (int(os.environ[k]) for k in ("M3", "M4", "CHANGE"))
failed = 0
render_ms = {}


def ok(name):
    print("ok - " + name, flush=True)


def notok(name, why):
    global failed
    failed = 1
    print("not ok - %s: %s" % (name, str(why).replace("\n", " ")[:600]), flush=True)


def case(name, fn):
    try:
        why = fn()
    except Exception as e:  # a broken page or a timeout fails the case, not the run
        why = "%s: %s" % (type(e).__name__, e)
    if why:
        notok(name, why)
    else:
        ok(name)


def api(path):
    with urllib.request.urlopen(BASE + path, timeout=10) as r:
        return json.loads(r.read())


# ---- plain HTTP: headers, parameters, refusals outside a browser ----
def hreq(method, path, body=None, headers=None):
    u = urllib.parse.urlsplit(BASE)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def expect(name, cond, why):
    ok(name) if cond else notok(name, why)


st, h, page = hreq("GET", "/console/")
csp = h.get("content-security-policy", "")
expect("page_csp", csp.startswith("default-src 'none'; script-src 'self'; style-src 'self';")
       and csp.endswith("frame-ancestors 'none'") and "unsafe" not in csp, "headers %s" % h)
expect("page_nosniff_frame_deny", h.get("x-content-type-options") == "nosniff" and h.get("x-frame-options") == "DENY",
       "headers %s" % h)
expect("page_content_type", st == 200 and h.get("content-type") == "text/html; charset=utf-8", "%s %s" % (st, h))
expect("page_no_inline_script", not re.search(rb"<script>|<script (?!src=)| on[a-z]+=", page), page[:300])
for f, t in (("app.js", "text/javascript; charset=utf-8"), ("style.css", "text/css; charset=utf-8")):
    st, h, body = hreq("GET", "/console/" + f)
    expect("content_type " + f, st == 200 and h.get("content-type") == t and "content-security-policy" in h,
           "%s %s" % (st, h))
st, h, js = hreq("GET", "/console/app.js")
expect("script_no_innerhtml_eval", not re.search(rb"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function",
                                                 js), "app.js uses an HTML or eval sink")
st, h, _ = hreq("GET", "/api/alert-list")
expect("api_nosniff", h.get("x-content-type-options") == "nosniff" and h.get("content-type") == "application/json",
       "headers %s" % h)
st, h, _ = hreq("GET", "/")
expect("root_redirects", st == 302 and h.get("location") == "/console/", "%s %s" % (st, h))
st, h, _ = hreq("GET", "/console/../../etc/passwd")
expect("unknown_file_404", st == 404, "status %s" % st)
for bad in ("/api/alert-list?severity=high", "/api/alert-list?kind=x", "/api/alert-list?limit=0",
            "/api/alert-list?color=red", "/api/alert?id=abc", "/api/alert", "/api/member",
            "/api/fleet?since=x", "/api/herd-change?id=-1", "/api/coverage?hostx=1",
            "/api/member?name=" + "x" * 300):
    st, h, body = hreq("GET", bad)
    expect("bad_param_400 " + bad[:40], st == 400 and "error" in json.loads(body), "%s %s" % (st, body[:200]))
st, h, _ = hreq("GET", "/api/alert?id=99999")
expect("alert_404", st == 404, "status %s" % st)
form = {"Content-Type": "application/x-www-form-urlencoded"}
auth = dict(form, Authorization="Bearer " + TOKEN)
for name, method, path, body, hdr, want in (
        ("ack_get_405", "GET", "/api/ack?id=%d" % M4, None, {}, 405),
        ("ack_no_token_401", "POST", "/api/ack", "id=%d" % M4, form, 401),
        ("ack_wrong_token_403", "POST", "/api/ack", "id=%d" % M4, dict(form, Authorization="Bearer " + "0" * 64), 403),
        ("ack_cross_origin_403", "POST", "/api/ack", "id=%d" % M4, dict(auth, Origin="http://evil.example"), 403),
        ("ack_cross_site_403", "POST", "/api/ack", "id=%d" % M4, dict(auth, **{"Sec-Fetch-Site": "same-site"}), 403),
        ("ack_foreign_host_421", "POST", "/api/ack", "id=%d" % M4, dict(auth, Host="evil.example"), 421),
        ("ack_missing_404", "POST", "/api/ack", "id=99999", auth, 404),
        ("ack_long_note_400", "POST", "/api/ack", "id=%d&note=%s" % (M4, "x" * 201), auth, 400),
        ("request_from_page_off_403", "POST", "/api/request", "host=vm1&arg=enable&arg=file",
         dict(auth, Origin=BASE), 403)):
    st, h, out = hreq(method, path, body, hdr)
    expect(name, st == want, "status %s, want %s: %s" % (st, want, out[:200]))
st, h, out = hreq("GET", "/api/alert?id=%d" % M4)
expect("ack_refusals_left_it_open", json.loads(out)["state"] == "open", out[:200])

b = cdp.Browser(TMP)


def show(route, view):
    """Go to a route of the console; wait until that view has rendered."""
    before = b.eval("document.body && document.body.dataset.ready || ''")
    if b.eval("location.origin") == BASE and b.eval("location.pathname") == "/console/":
        b.eval("location.hash = %s" % json.dumps(route))
    else:
        b.goto(BASE + "/console/" + route)
    b.wait("document.body && document.body.dataset.view === %s && document.body.dataset.ready !== %s"
           % (json.dumps(view), json.dumps(before)))
    render_ms[route] = int(b.eval("document.body.dataset.renderMs"))


def click(selector_js, view):
    """Click the element selector_js evaluates to; wait for the view it opens."""
    before = b.eval("document.body.dataset.ready")
    if not b.eval("(() => { const e = %s; if (!e) return false; e.click(); return true; })()" % selector_js):
        raise cdp.CDPError("nothing to click: " + selector_js)
    b.wait("document.body.dataset.view === %s && document.body.dataset.ready !== %s"
           % (json.dumps(view), json.dumps(before)))


def text(sel="main"):
    return b.eval("document.querySelector(%s).textContent" % json.dumps(sel))


def shot(name):
    b.screenshot(os.path.join(SHOTS, name))


# ---- Fleet ----
def fleet():
    show("#/fleet", "fleet")
    row = b.eval("(() => { const r = document.querySelector('tr[data-herd=\"web\"]');"
                 " return r && [...r.cells].map(c => c.textContent); })()")
    if not row:
        return "no row for herd web: " + text()
    if row[1] != "5" or row[2] != "5":
        return "members/active: %s" % row
    if "file.open: 5 members" not in row[8]:
        return "blind column: %r" % row[8]
    if row[5] != "2":
        return "alerts in 24 h: %r (want 2: vm1/m3 and vm1/m4)" % row[5]
    cov = text("table.coverage")
    if "file.open" not in cov or "unavailable" not in cov or "0.1-test" not in cov:
        return "coverage table: " + cov
    shot("fleet.png")


case("fleet_herd_members_alerts_blind", fleet)


# ---- Alerts list -> alert -> member timeline ----
def alerts():
    click("document.getElementById('nav-alerts')", "alerts")
    r = b.eval("(() => { const r = document.querySelector('tr[data-alert=\"%d\"]');"
               " return r && r.textContent; })()" % M3)
    if not r or "vm1/m3" not in r or "member.outlier" not in r or "open" not in r:
        return "row of alert %d: %r" % (M3, r)
    first = b.eval("document.querySelector('tr.alert-row').dataset.alert")
    if int(first) < M3:
        return "not newest first: first row is alert %s" % first
    shot("alerts.png")


case("alerts_list_shows_attacked_member", alerts)


def alert_filter():
    show("#/alerts?herd=web&severity=alert&member=vm1%2Fm3", "alerts")
    ids = b.eval("[...document.querySelectorAll('tr.alert-row')].map(r => +r.dataset.alert)")
    if ids != [M3]:
        return "filtered rows %s, want [%d]" % (ids, M3)
    show("#/alerts?kind=herd.change", "alerts")
    ids = b.eval("[...document.querySelectorAll('tr.alert-row')].map(r => +r.dataset.alert)")
    want = [x["id"] for x in api("/api/alert-list?kind=herd.change")["alerts"]]
    if ids != want or CHANGE not in ids:
        return "kind filter rows %s, want %s (with %d)" % (ids, want, CHANGE)


case("alerts_filter_herd_member_severity_kind", alert_filter)


def alert_detail():
    show("#/alerts", "alerts")
    click("document.querySelector('tr[data-alert=\"%d\"] a')" % M3, "alert")
    x = text("#explanation")
    if "0 of 4 peers" not in x:
        return "explanation: " + x
    toks = text("table.tokens")
    for t in ("exec|/usr/bin/dash|parent=/usr/sbin/nginx|user=service",
              "connect|/usr/bin/nc.openbsd|tcp/4444|public", "file|/usr/bin/cat|open|/etc/shadow"):
        if t not in toks:
            return "token %s missing: %s" % (t, toks)
    if "0 of 4" not in toks:
        return "peer counts missing: " + toks
    evs = text("table.events")
    for s in ("/usr/bin/dash", "/usr/bin/nc.openbsd", "203.0.113.7:4444", "/etc/shadow"):
        if s not in evs:
            return "evidence %s missing: %s" % (s, evs[:300])
    if "open" not in text("#state"):
        return "state: " + text("#state")
    shot("alert.png")


case("alert_opens_to_evidence", alert_detail)


def timeline():
    click("[...document.querySelectorAll('main a')].find(a => a.textContent.startsWith('Timeline of vm1/m3'))",
          "member")
    # the shell's node holds nc's node, which holds the connection
    found = b.eval("""(() => {
        const sh = [...document.querySelectorAll('#ptree li.pnode')].find(li =>
            li.querySelector(':scope > .proc').textContent === '/usr/bin/dash');
        if (!sh) return 'no shell node';
        const nc = [...sh.querySelectorAll('li.pnode')].find(li =>
            li.querySelector(':scope > .proc').textContent === '/usr/bin/nc.openbsd');
        if (!nc) return 'nc not under the shell';
        const conn = nc.querySelector('li.act[data-kind="net.connect"]');
        if (!conn || !conn.textContent.includes('203.0.113.7:4444')) return 'no connection under nc';
        if (!conn.classList.contains('hit')) return 'connection not marked as evidence';
        const cat = [...sh.querySelectorAll('li.pnode')].find(li =>
            li.querySelector(':scope > .proc').textContent === '/usr/bin/cat');
        if (!cat || !cat.textContent.includes('/etc/shadow')) return 'no /etc/shadow under cat';
        const parent = sh.parentElement.closest('li.pnode');
        if (!parent || !parent.querySelector(':scope > .proc').textContent.includes('/usr/sbin/nginx'))
            return 'shell not under nginx';
        return 'yes';
    })()""")
    if found != "yes":
        return found + ": " + text("#ptree")[:400]
    un = text("main")
    if "exec|/usr/bin/dash|parent=/usr/sbin/nginx|user=service" not in un:
        return "unshared tokens missing"
    probes = text("table.probes")
    if "file.open" not in probes or "unavailable" not in probes:
        return "coverage manifest: " + probes
    shot("member.png")


case("timeline_shows_shell_and_connection", timeline)


def change():
    show("#/change/%d" % CHANGE, "change")
    x = text("#explanation")
    if "5 of 5" not in x:
        return "explanation: " + x
    t = text("main table")
    if "exec|/opt/app/bin/app-v2|parent=/usr/sbin/nginx|user=service" not in t or "100%" not in t:
        return "tokens: " + t
    shot("change.png")


case("herd_change_what_when_how_many", change)


# ---- hostile strings ----
def hostile():
    for route, view in (("#/member/vm1%2Fm4", "member"), ("#/alert/%d" % M4, "alert"), ("#/alerts", "alerts")):
        show(route, view)
        main = text("main")
        want = [HOSTILE_EXE] if view == "alerts" else [HOSTILE_EXE, HOSTILE_ARGS[2], "<b>bold</b>", "bad-\xff\xfe-bytes"]
        if view == "member":
            want += [HOSTILE_PATH, HOSTILE_DNS]
        for w in want:
            if w not in main:
                return "%s: %r not shown as text" % (route, w)
        n = b.eval("document.querySelectorAll('main img, main svg, main script, main b, main iframe').length")
        if n:
            return "%s: %d elements made from event text" % (route, n)
        if b.eval("document.title") != "herdwatch console":
            return "%s: title changed to %r" % (route, b.eval("document.title"))
        if b.eval("window.__csp.length"):
            return "%s: CSP violations %s" % (route, b.eval("window.__csp"))
        if view == "member":
            shot("hostile.png")


case("hostile_strings_render_as_text", hostile)


# ---- state-changing calls ----
def fetch_status(method, path, body, token):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if token:
        h["Authorization"] = "Bearer " + token
    return b.eval("fetch(%s, {method: %s, headers: %s, body: %s}).then(r => r.status)"
                  % (json.dumps(path), json.dumps(method), json.dumps(h), json.dumps(body)))


def state(aid):
    return api("/api/alert?id=%d" % aid)["state"]


def no_token():
    show("#/fleet", "fleet")
    st = fetch_status("POST", "/api/ack", "id=%d" % M4, None)
    if st != 401:
        return "ack without token: status %s, want 401" % st
    st = fetch_status("POST", "/api/ack", "id=%d" % M4, "0" * 64)
    if st != 403:
        return "ack with a wrong token: status %s, want 403" % st
    if state(M4) != "open":
        return "alert %d is %s" % (M4, state(M4))
    # the request path is off without --console-requests, token or not
    st = fetch_status("POST", "/api/request", "host=vm1&arg=enable&arg=file", TOKEN)
    if st != 403:
        return "/api/request from the page: status %s, want 403" % st
    show("#/member/vm1%2Fm3", "member")
    if "off" not in text("#visibility"):
        return "visibility button: " + text("#visibility")


case("state_change_without_token_refused", no_token)


class Evil(http.server.BaseHTTPRequestHandler):
    """Another origin: its page tries to acknowledge alert M4 on the collector."""
    def do_GET(self):
        page = ("<!doctype html><title>evil</title><form id=f method=post action='%s/api/ack'>"
                "<input name=id value=%d></form><script>"
                "Promise.allSettled(["
                "fetch('%s/api/ack', {method: 'POST', mode: 'no-cors', body: new URLSearchParams({id: '%d'})}),"
                "fetch('%s/api/ack', {method: 'POST', headers: {Authorization: 'Bearer %s'},"
                " body: new URLSearchParams({id: '%d'})})"
                "]).then(() => { document.title = 'sent'; });"
                "</script>" % (BASE, M4, BASE, M4, BASE, TOKEN, M4)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *a):
        pass


def cross_site():
    srv = http.server.HTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        refused = api("/api/stats")["api_refused"]
        b.goto("http://127.0.0.1:%d/" % srv.server_port)
        b.wait("document.title === 'sent'")
        # and a plain form post (a top-level navigation, Sec-Fetch-Site: cross-site)
        b.eval("document.getElementById('f').submit()")
        b.wait("location.href.startsWith(%s)" % json.dumps(BASE))
        b.wait("document.readyState === 'complete'")
        body = b.eval("document.body.textContent")
        if "cross-origin" not in body:
            return "form post answered: %r" % body[:200]
        if state(M4) != "open":
            return "alert %d is %s after the other origin's posts" % (M4, state(M4))
        now = api("/api/stats")["api_refused"]
        if now < refused + 2:
            return "api_refused %d -> %d, want 2 more (the no-cors post, the form)" % (refused, now)
    finally:
        srv.shutdown()


case("cross_site_post_refused", cross_site)


def ack_ui():
    show("#/fleet", "fleet")
    b.eval("document.getElementById('token').value = %s" % json.dumps(TOKEN))
    b.eval("document.getElementById('token-use').click()")
    b.wait("document.getElementById('mode').textContent.includes('may act')")
    show("#/alert/%d" % M3, "alert")
    b.eval("document.getElementById('ack').click()")
    b.wait("document.getElementById('ack-msg').textContent !== ''")
    msg = text("#ack-msg")
    if "acknowledged" not in msg:
        return "ack answer: " + msg
    if state(M3) != "acknowledged":
        return "alert %d is %s after the ack" % (M3, state(M3))
    show("#/alerts", "alerts")
    r = b.eval("document.querySelector('tr[data-alert=\"%d\"]').textContent" % M3)
    if "acknowledged" not in r:
        return "list row: " + r


case("ack_with_token_same_origin", ack_ui)


def live():
    # a new alert appears on the open list without a reload (polling)
    show("#/alerts", "alerts")
    n = b.eval("document.querySelectorAll('tr.alert-row').length")
    open(os.path.join(TMP, "live.go"), "w").close()  # the shell half sends another attack
    b.wait("document.querySelectorAll('tr.alert-row').length > %d" % n, timeout=20)


case("live_update_without_reload", live)

def visibility_on():
    # the shell half restarts the collector with --console-requests (a new token)
    open(os.path.join(TMP, "restart.go"), "w").close()
    done = os.path.join(TMP, "restart.done")
    for _ in range(300):
        if os.path.exists(done) and os.path.getsize(done) >= 64:
            break
        __import__("time").sleep(0.1)
    token = open(done).read().strip()
    b.goto("about:blank")
    b.wait("location.href === 'about:blank'")
    b.goto(BASE + "/console/#/fleet")
    b.wait("document.body && document.body.dataset.view === 'fleet'")
    b.eval("document.getElementById('token').value = %s" % json.dumps(token))
    b.eval("document.getElementById('token-use').click()")
    b.wait("document.getElementById('mode').textContent.includes('may act')")
    show("#/member/vm1%2Fm3", "member")
    if not b.eval("!!document.getElementById('vis-ask')"):
        return "no button: " + text("#visibility")
    b.eval("document.getElementById('vis-probe').value = 'file'")
    b.eval("document.getElementById('vis-ask').click()")
    b.wait("document.getElementById('vis-msg').textContent !== ''")
    # the request passed every check and reached the sending step: no agent of vm1 is connected
    msg = text("#vis-msg")
    if "no live connection" not in msg:
        return "answer: " + msg


case("visibility_request_with_console_requests", visibility_on)

b.close()
print("# render ms (from the API, in the browser): " +
      ", ".join("%s %d" % (k, v) for k, v in render_ms.items()))
sys.exit(failed)
