#!/usr/bin/env python3
"""A small DevTools-protocol client for headless Chromium (python3 standard library only).

Chromium is started with --remote-debugging-pipe: it reads commands from fd 3 and writes
answers and events to fd 4, each a JSON text ended by a NUL byte. One browser process serves a
whole test (starting Chromium costs seconds on a small machine).

    b = Browser(tmpdir)             # starts chromium, attaches to its first page
    b.goto("http://127.0.0.1:7480/console/#/fleet")
    b.eval("document.title")
    b.screenshot("fleet.png")
    b.close()
"""
import base64, fcntl, json, os, select, shutil, subprocess, time


class CDPError(Exception):
    pass


class Browser:
    def __init__(self, tmpdir, width=1400, height=1000):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise CDPError("chromium is not installed (scripts/deps.sh)")
        to_r, to_w = os.pipe()      # commands: we write, chromium reads fd 3
        from_r, from_w = os.pipe()  # answers: chromium writes fd 4, we read
        self.log = open(os.path.join(tmpdir, "chromium.log"), "w")

        def child():
            # copies above any low fd first, so that neither dup2 overwrites the other's source
            a = fcntl.fcntl(to_r, fcntl.F_DUPFD, 100)
            b = fcntl.fcntl(from_w, fcntl.F_DUPFD, 100)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--user-data-dir=" + os.path.join(tmpdir, "chromium-profile"), "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--disable-sync",
             "--disable-component-update", "--mute-audio", "--disable-dev-shm-usage",
             "--window-size=%d,%d" % (width, height), "about:blank"],
            preexec_fn=child, close_fds=False, stdout=self.log, stderr=self.log)
        os.close(to_r)
        os.close(from_w)
        self.w, self.r = to_w, from_r
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None
        targets = self.call("Target.getTargets")["targetInfos"]
        page = [t for t in targets if t["type"] == "page"]
        if page:
            tid = page[0]["targetId"]
        else:
            tid = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=tid, flatten=True)["sessionId"]
        for m in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.call(m)
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        # CSP violations are recorded by the page itself (a script the protocol adds to every
        # document runs outside the page's CSP)
        self.call("Page.addScriptToEvaluateOnNewDocument", source=(
            "window.__csp = []; document.addEventListener('securitypolicyviolation', "
            "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"))

    def _read_msg(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise CDPError("timeout waiting for chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise CDPError("chromium closed the pipe (see chromium.log)")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, timeout=15, **params):
        self.next_id += 1
        m = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            m["sessionId"] = self.session
        os.write(self.w, json.dumps(m).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            r = self._read_msg(deadline)
            if r.get("id") == self.next_id:
                if "error" in r:
                    raise CDPError("%s: %s" % (method, r["error"].get("message")))
                return r.get("result", {})
            if "method" in r:
                self.events.append(r)

    def eval(self, expr, timeout=15):
        r = self.call("Runtime.evaluate", timeout=timeout, expression=expr, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise CDPError("eval %r: %s" % (expr[:60], r["exceptionDetails"].get("text")))
        return r["result"].get("value")

    def wait(self, expr, timeout=10):
        """Wait until the JavaScript expression is truthy; returns its value."""
        deadline = time.time() + timeout
        while True:
            v = self.eval(expr)
            if v:
                return v
            if time.time() > deadline:
                raise CDPError("timeout waiting for " + expr)
            time.sleep(0.05)

    def goto(self, url):
        self.call("Page.navigate", url=url)

    def screenshot(self, path):
        h = self.eval("Math.min(1600, document.documentElement.scrollHeight)") or 1000
        w = self.eval("document.documentElement.clientWidth") or 1400
        r = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                      clip={"x": 0, "y": 0, "width": w, "height": h, "scale": 1})
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except CDPError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.w)
        os.close(self.r)
        self.log.close()
