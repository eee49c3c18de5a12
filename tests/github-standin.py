"""A stand-in for GitHub in the tests: the app-installation-token API and a Git server.

POST /app/installations/ID/access_tokens verifies the RS256 JWT with the app's public key (the
key pair is made here; its private half is written to --key-out for the test's app document),
checks `iss` and the times as GitHub does, and mints a random token valid for an hour. Any
other path is git's smart HTTP (git http-backend over --repos), and only for Basic
credentials `x-access-token:TOKEN` with a token minted here. With --api-status the API answers
that status instead of a token. Each request is logged to --log as "METHOD PATH STATUS".
Prints "port N" once it listens on 127.0.0.1.
"""

import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

parser = argparse.ArgumentParser()
parser.add_argument("--repos", required=True)
parser.add_argument("--key-out", required=True)
parser.add_argument("--app-id", required=True)
parser.add_argument("--installation-id", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--api-status", type=int, default=201)
options = parser.parse_args()

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
with open(options.key_out, "wb") as out:
    out.write(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
public = key.public_key()
minted = set()
lock = threading.Lock()


def b64decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_ok(authorization):
    if not authorization.startswith("Bearer "):
        return False
    try:
        header, claims, signature = authorization[len("Bearer "):].split(".")
        if json.loads(b64decode(header)).get("alg") != "RS256":
            return False
        public.verify(
            b64decode(signature),
            f"{header}.{claims}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        claims = json.loads(b64decode(claims))
    except (ValueError, InvalidSignature):
        return False
    now = time.time()
    return (
        str(claims.get("iss")) == options.app_id
        and claims.get("iat", now + 1) <= now + 60
        and claims.get("exp", 0) > now
        and claims["exp"] - claims["iat"] <= 660
    )


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        # Logged before the answer goes out, so a test that has its answer finds the line.
        with lock, open(options.log, "a") as log:
            log.write(f"{self.command} {self.path} {status}\n")
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        token_path = f"/app/installations/{options.installation_id}/access_tokens"
        if self.path == token_path:
            if not jwt_ok(self.headers.get("Authorization", "")):
                return self.answer(401, b'{"message":"A JSON web token could not be decoded"}')
            if options.api_status != 201:
                return self.answer(options.api_status, b'{"message":"unavailable"}')
            token = "ghs_" + secrets.token_hex(16)
            with lock:
                minted.add(token)
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            body = json.dumps({"token": token, "expires_at": expires}).encode()
            return self.answer(201, body, [("Content-Type", "application/json")])
        self.git()

    def do_GET(self):
        self.git()

    def git(self):
        authorization = self.headers.get("Authorization", "")
        user, password = "", ""
        if authorization.startswith("Basic "):
            user, _, password = b64decode(authorization[6:]).decode().partition(":")
        with lock:
            allowed = user == "x-access-token" and password in minted
        if not allowed:
            return self.answer(401, b"", [("WWW-Authenticate", 'Basic realm="git"')])
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        environment = dict(
            os.environ,
            GIT_PROJECT_ROOT=options.repos,
            GIT_HTTP_EXPORT_ALL="1",
            PATH_INFO=path,
            QUERY_STRING=query,
            REQUEST_METHOD=self.command,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
            CONTENT_LENGTH=str(len(body)),
            REMOTE_USER=user,
        )
        output = subprocess.run(
            ["git", "http-backend"], input=body, env=environment, capture_output=True
        ).stdout
        head, _, payload = output.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.answer(status, payload, headers)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"port {server.server_address[1]}", flush=True)
sys.stdout.close()
server.serve_forever()
