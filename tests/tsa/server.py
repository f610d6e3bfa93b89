#!/usr/bin/env python3
"""A time-stamp authority for tests: RFC 3161 over HTTP on 127.0.0.1, answered by
`openssl ts -reply` with the PKI that make_pki.sh made in DIR.

    server.py DIR PORT_FILE

Binds a free port and writes it to PORT_FILE once listening. The first path segment picks
the TSA: /ec and /rsa answer with that section of DIR/tsa.cnf; /garbage answers 200 with
bytes that are no TimeStampResp; /slow holds the request without answering (a TSA that
times out). Exits by itself after LIFETIME seconds in case the test that started it died.
"""
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIFETIME = 300
SECTIONS = {"/ec": "tsa_ec", "/rsa": "tsa_rsa"}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        query = self.rfile.read(length)
        if self.path == "/slow":
            time.sleep(30)
            return
        if self.path == "/garbage":
            return self.answer(200, b"this is not a time-stamp response")
        section = SECTIONS.get(self.path)
        if section is None or self.headers.get("Content-Type") != "application/timestamp-query":
            return self.answer(400, b"")
        with tempfile.TemporaryDirectory() as tmp:
            q, r = os.path.join(tmp, "q.tsq"), os.path.join(tmp, "r.tsr")
            with open(q, "wb") as f:
                f.write(query)
            done = subprocess.run(
                ["openssl", "ts", "-reply", "-config", CONFIG, "-section", section,
                 "-queryfile", q, "-out", r],
                capture_output=True, timeout=20)
            if done.returncode != 0:
                sys.stderr.write(done.stderr.decode(errors="replace"))
                return self.answer(500, b"")
            with open(r, "rb") as f:
                self.answer(200, f.read())

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    pki, port_file = sys.argv[1], sys.argv[2]
    CONFIG = os.path.join(pki, "tsa.cnf")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Timer(LIFETIME, server.shutdown).start()
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, port_file)
    server.serve_forever()
