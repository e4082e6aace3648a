"""A tiny webhook receiver for the sandbox's deliveries: the standard library only (any python3).

It checks each delivery's Svix signature as the cloud's receivers do (``svix-id``,
``svix-timestamp``, ``svix-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed by
the base64 after ``whsec_``), answers 204 when one of the signatures matches and 400 otherwise,
and prints one line per delivery. ``GET /received`` answers what arrived, oldest first:
``[{"event_type", "svix_id", "verified"}, ...]``.

    WEBHOOK_SECRET=whsec_... python3 receiver.py        # listens on 0.0.0.0:9000 (PORT to change)

Replace it with your app's own endpoint: the checks below are what the ``svix`` library does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("WEBHOOK_SECRET", "")
PORT = int(os.environ.get("PORT", "9000"))
TOLERANCE = 5 * 60  # seconds a delivery's timestamp may be off, as Svix allows

received: list[dict] = []
lock = threading.Lock()


def verify(secret: str, headers, body: bytes) -> bool:
    """Whether ``body`` carries a valid Svix signature for ``secret`` (``whsec_<base64>``)."""
    msg_id = headers.get("svix-id", "")
    stamp = headers.get("svix-timestamp", "")
    signatures = headers.get("svix-signature", "")
    if not (secret.startswith("whsec_") and msg_id and stamp.isdigit() and signatures):
        return False
    if abs(time.time() - int(stamp)) > TOLERANCE:
        return False
    try:
        key = base64.b64decode(secret[len("whsec_") :], validate=True)
    except ValueError:
        return False
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # The header may hold several space-separated signatures (a secret being rotated): any one will do.
    return any(
        version == "v1" and hmac.compare_digest(given, expected)
        for version, _, given in (part.partition(",") for part in signatures.split())
    )


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        verified = verify(SECRET, self.headers, body)
        try:
            event_type = json.loads(body).get("event_type", "?")
        except (ValueError, AttributeError):
            event_type = "?"
        svix_id = self.headers.get("svix-id", "")
        with lock:
            received.append({"event_type": event_type, "svix_id": svix_id, "verified": verified})
        print(f"webhook {event_type} {svix_id} {'verified' if verified else 'REJECTED'}", flush=True)
        self.send_response(204 if verified else 400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/received":
            self.send_error(404)
            return
        with lock:
            body = json.dumps(received).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # one line per delivery is printed above
        pass


if __name__ == "__main__":
    if not SECRET.startswith("whsec_"):
        sys.exit("receiver.py: set WEBHOOK_SECRET to the sandbox's whsec_ secret")
    # As PID 1 in a container, SIGTERM (docker compose down/stop) does nothing without a handler.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"receiver: listening on 0.0.0.0:{PORT}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
