"""The example app's control endpoints served locally, to try the configure step without Modal.

    python3 examples/modal/local_control.py --app omtx-local-app --port 8090

It answers as ``boltz2_app.py``'s ``control`` does: ``POST /test-delivery`` (send a signed test
completion to the webhook), ``POST /status`` (every call is running) and ``POST /cancel``, each
verified with the app's secret. That secret and the webhook URL are the app's "Modal secret", read at
each request from ``<secrets dir>/omtx-webhooks-<app>.json`` — what ``modal secret create`` would
hold; the stand-in ``modal`` command in test/support/fake-modal writes it there.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from omtx_webhooks import test_delivery, verify_control


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True, help="the Modal app this stands in for")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--secrets-dir", default=os.environ.get("MODAL_SECRETS_DIR", ".data/modal-secrets"),
                        help="where the app's Modal secret is (default $MODAL_SECRETS_DIR or .data/modal-secrets)")
    args = parser.parse_args()
    secret_file = pathlib.Path(args.secrets_dir) / f"omtx-webhooks-{args.app}.json"

    class Control(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                settings = json.loads(secret_file.read_text())
            except (OSError, ValueError):
                return self._answer(503, {"error": "not_configured", "message": f"no Modal secret at {secret_file}"})
            if not verify_control(settings["MODAL_WEBHOOK_SECRET"], "POST", self.path, body,
                                  self.headers.get("x-omtx-control-signature"), self.headers.get("x-omtx-control-timestamp")):
                return self._answer(401, {"error": "bad_signature"})
            request = json.loads(body or b"{}")
            if self.path == "/test-delivery":
                return self._answer(200, test_delivery(args.app, settings["OMTX_WEBHOOK_URL"], settings["MODAL_WEBHOOK_SECRET"]))
            if self.path == "/status":
                return self._answer(200, {"call_id": request.get("call_id"), "status": "running"})
            if self.path == "/cancel":
                return self._answer(200, {"call_id": request.get("call_id"), "cancelled": True})
            return self._answer(404, {"error": "not_found"})

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Control)
    print(f"{args.app} control endpoints on http://127.0.0.1:{args.port} (secret from {secret_file})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
