#!/usr/bin/env python3
"""A webhook receiver for the output tests: an http.server on loopback (HTTPS with --cert and
--key) that appends one JSON line per POST to --out: {"path", "headers", "items"}, items being
the parsed JSON array of the body. The answer's status is 200, or the number in --status-file
when that file exists (the tests make it 400 or 503). Keep-alive (HTTP/1.1) like a real one.
Usage: webhook_recv.py --port N --out FILE [--cert PEM --key KEY] [--status-file FILE]"""
import argparse
import json
import os
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--status-file")
args = ap.parse_args()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        status = 200
        if args.status_file and os.path.exists(args.status_file):
            with open(args.status_file) as f:
                status = int(f.read().strip() or 200)
        if status == 200:
            try:
                items = json.loads(body)
            except ValueError as e:
                items = {"unparsable": str(e), "body": body[:200].decode("latin-1")}
            rec = {"path": self.path, "headers": dict(self.headers), "items": items}
            with open(args.out, "a") as f:
                f.write(json.dumps(rec) + "\n")
        reply = b'{"ok":true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
srv.daemon_threads = True
if args.cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("listening", flush=True)
sys.stdout.flush()
srv.serve_forever()
