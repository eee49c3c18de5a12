"""A GOPROXY file tree over HTTP on loopback, for tests/upstream.rs, with upstream faults on
demand. A path is served from the tree; a path under /_fault/MODE/ serves the rest of the path
the way MODE says:
  status/N/   answers N with a short body, whatever the rest is
  slow/       waits 30 s first (tests set a shorter fetch timeout; bounded so it ends by itself)
  cut/        sends the full Content-Length but only half the body, then closes
  away/       redirects to the same path on another host name (localhost), plain http
  here/       redirects to the same path on this host (127.0.0.1), plain http
  elsewhere/  redirects to https://localhost:1 (where nothing listens) and the same path
Prints "port N" on its first line; logs each request line on stderr (http.server's format).
"""

import http.server
import os
import sys
import time


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if not self.path.startswith("/_fault/"):
            return super().do_GET()
        mode, _, rest = self.path[len("/_fault/"):].partition("/")
        rest = "/" + rest
        port = self.server.server_address[1]
        if mode == "status":
            code, _, _ = rest[1:].partition("/")
            return self.answer(int(code), b"upstream says no\n")
        if mode == "slow":
            time.sleep(30)
            self.path = rest
            return super().do_GET()
        if mode == "cut":
            path = self.translate_path(rest)
            with open(path, "rb") as file:
                body = file.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return None
        if mode in ("away", "here", "elsewhere"):
            location = {
                "away": f"http://localhost:{port}{rest}",
                "here": f"http://127.0.0.1:{port}{rest}",
                "elsewhere": f"https://localhost:1{rest}",
            }[mode]
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self.answer(400, b"unknown fault\n")

    def answer(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    root = sys.argv[1]
    os.chdir(root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
