"""Completion webhooks for OMTX-Hub, sent from a Modal app.

Standard library only, so it runs in any Modal image. Signs exactly as the receiver verifies, by
default with the Standard Webhooks scheme, which binds the timestamp to the signature:
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256(key,
"id.timestamp.body")>`` (the key: the bytes after ``whsec_`` for such a secret, else the secret's own
bytes). ``scheme="modal"`` signs the seed's way instead: ``X-Modal-Signature: sha256=<hex
HMAC-SHA256(secret, raw body)>`` and ``X-Modal-Timestamp``. The timestamp is set when each attempt
is sent. Retries with exponential backoff on network errors, 408, 429 and 5xx; gives up at once on
other 4xx (they will not change by retrying).

Also verifies the signed requests the pipeline sends to the app's status and cancel endpoints.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Mapping, Optional

USER_AGENT = "Modal-Webhook/1.0"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes) -> str:
    """The X-Modal-Signature header value for ``body``."""
    return "sha256=" + hmac.new(secret.strip().encode(), body, hashlib.sha256).hexdigest()


def standard_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks scheme for ``secret``."""
    secret = secret.strip()
    return base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()


def sign_standard(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value (Standard Webhooks, v1)."""
    mac = hmac.new(standard_key(secret), f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def webhook_id(body: bytes) -> str:
    """One id per completion, the same on every retry (the body is serialised once)."""
    return "msg_" + hashlib.sha256(body).hexdigest()[:32]


def signed_headers(secret: str, body: bytes, scheme: Optional[str] = None, now: Optional[float] = None) -> dict[str, str]:
    """The headers of one attempt, signed with ``scheme`` ("standard" or "modal") at ``now``; by default
    the app's Modal secret says which (OMTX_SIGNATURE_SCHEME, set by the pipeline's configure step),
    else "standard"."""
    scheme = scheme or os.environ.get("OMTX_SIGNATURE_SCHEME") or "standard"
    timestamp = int(now if now is not None else time.time())
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if scheme == "standard":
        msg_id = webhook_id(body)
        headers.update({"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
                        "webhook-signature": sign_standard(secret, msg_id, timestamp, body)})
    elif scheme == "modal":
        headers.update({"X-Modal-Signature": sign(secret, body), "X-Modal-Timestamp": str(timestamp)})
    else:
        raise ValueError(f"unknown scheme {scheme!r}")
    return headers


CONTROL_PURPOSE = b"omtx-control-v1"


def control_key(secret: str) -> bytes:
    """The key of the pipeline's control requests: derived from the secret, used for nothing else."""
    return hmac.new(secret.strip().encode(), CONTROL_PURPOSE, hashlib.sha256).digest()


def sign_control(secret: str, method: str, path: str, timestamp: int, body: bytes) -> str:
    """The X-Omtx-Control-Signature of a control request: method, path, timestamp and body bound."""
    message = f"{timestamp}.{method.upper()}.{path}.".encode() + body
    return "v1=" + hmac.new(control_key(secret), message, hashlib.sha256).hexdigest()


def _timestamp(value: Optional[str]) -> Optional[int]:
    """The integer in a timestamp header, or None. ASCII digits only: ``'²'.isdigit()`` is true in
    Python and ``int('²')`` raises, which would turn a crafted header into a crash."""
    if not value or len(value) > 15 or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison that cannot raise: ``hmac.compare_digest`` refuses non-ASCII str."""
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def verify_control(secret: str, method: str, path: str, body: bytes, signature: Optional[str], timestamp: Optional[str],
                   now: Optional[float] = None) -> bool:
    """True when a control request from the pipeline (status, cancel, test delivery) is for this method
    and path, signed with ``secret``'s control key, and fresh: a captured /status cannot be sent to /cancel."""
    ts = _timestamp(timestamp)
    if not signature or ts is None:
        return False
    if abs((now if now is not None else time.time()) - ts) > TOLERANCE_SECONDS:
        return False
    return _same(sign_control(secret, method, path, ts, body), signature)


def verify(secret: str, body: bytes, signature: Optional[str], timestamp: Optional[str], now: Optional[float] = None) -> bool:
    """True when ``body`` carries a completion-webhook signature with ``secret`` and is fresh (body only:
    control endpoints must use ``verify_control``, which binds the method and path)."""
    ts = _timestamp(timestamp)
    if not signature or ts is None:
        return False
    if abs((now if now is not None else time.time()) - ts) > TOLERANCE_SECONDS:
        return False
    return _same(sign(secret, body), signature)


def completion_body(call_id: str, status: str, job_id: str, batch_id: Optional[str] = None, app: Optional[str] = None,
                    result: Optional[Mapping[str, Any]] = None, error: Optional[Mapping[str, Any]] = None) -> bytes:
    """The seed guide's payload, serialised once: the bytes that are signed are the bytes sent."""
    metadata: dict[str, Any] = {"job_id": job_id, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if batch_id:
        metadata["batch_id"] = batch_id
    if app:
        metadata["app"] = app
    payload: dict[str, Any] = {"call_id": call_id, "status": status, "metadata": metadata}
    if result is not None:
        payload["result"] = dict(result)
    if error is not None:
        payload["error"] = dict(error)
    return json.dumps(payload, separators=(",", ":")).encode()


class DeliveryFailed(Exception):
    """The webhook was not accepted after every attempt (or was refused for good)."""


def send_completion(url: str, secret: str, body: bytes, *, attempts: int = 6, base_delay: float = 1.0,
                    max_delay: float = 60.0, timeout: float = 30.0, scheme: Optional[str] = None,
                    sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """POSTs a signed completion; returns the receiver's JSON answer (202 accepted or 200 dry run)."""
    last_error = ""
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=body, method="POST", headers=signed_headers(secret, body, scheme))
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as err:
            detail = err.read()[:300].decode(errors="replace")
            last_error = f"HTTP {err.code}: {detail}"
            if err.code < 500 and err.code not in (408, 429):
                raise DeliveryFailed(last_error) from err
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            last_error = str(err)
        if attempt + 1 < attempts:
            delay = min(max_delay, base_delay * 2 ** attempt)
            sleep(delay * (0.5 + random.random() / 2))
    raise DeliveryFailed(f"not accepted after {attempts} attempts: {last_error}")


def test_delivery(app: str, webhook_url: str, secret: str) -> dict[str, Any]:
    """Sends one signed synthetic completion (``metadata.test``: it touches no job) and says how the
    webhook answered: what the pipeline's configure step asks of an app to prove its configuration."""
    suffix = hashlib.sha256(f"{app}{time.time()}{random.random()}".encode()).hexdigest()[:12]
    body = completion_body(f"test-call-{suffix}", "success", f"test-config-{suffix}", app=app,
                           result={"affinity": 0, "confidence": 0})
    payload = json.loads(body)
    payload["metadata"]["test"] = True
    body = json.dumps(payload, separators=(",", ":")).encode()
    request = urllib.request.Request(webhook_url, data=body, method="POST", headers=signed_headers(secret, body))
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return {"delivered": True, "webhook_status": response.status}
    except urllib.error.HTTPError as err:
        try:
            error = json.loads(err.read() or b"{}").get("error")
        except ValueError:
            error = None
        return {"delivered": False, "webhook_status": err.code, "webhook_error": error}
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        return {"delivered": False, "webhook_status": 0, "webhook_error": str(err)}


LOCAL_URL = "http://localhost:8080/api/v3/webhooks/modal/completion"


def main(argv: Optional[list[str]] = None) -> int:
    """Command line: send one signed completion, e.g. to the local stack that ``npm start`` runs."""
    import argparse
    import os
    import pathlib
    import sys

    data = pathlib.Path(os.environ.get("LOCAL_DATA_DIR") or pathlib.Path(__file__).resolve().parents[2] / ".data")
    default_url = LOCAL_URL
    try:
        default_url = json.loads((data / "local-stack.json").read_text())["webhookUrl"]
    except (OSError, ValueError, KeyError):
        pass
    parser = argparse.ArgumentParser(
        description="Send a signed Modal completion webhook to omtx-modal-webhooks.",
        epilog="The secret comes from $MODAL_WEBHOOK_SECRET, else from the local stack's .data/secret "
               "(written by `npm start`); the URL defaults to the running local stack's.")
    parser.add_argument("--url", default=default_url, help=f"webhook URL (default: the running npm start's, else {LOCAL_URL})")
    parser.add_argument("--job-id", default="job-python", help="metadata.job_id (default job-python)")
    parser.add_argument("--call-id", help="the Modal call id (default call-<job id>)")
    parser.add_argument("--batch-id", help="metadata.batch_id")
    parser.add_argument("--status", default="success", choices=["success", "failure", "timeout"])
    parser.add_argument("--app", default="omtx-python", help="metadata.app, counted by the admin's /status (default omtx-python)")
    parser.add_argument("--attempts", type=int, default=3, help="delivery attempts (default 3)")
    parser.add_argument("--scheme", default="standard", choices=["standard", "modal"],
                        help="signature scheme (default standard: Standard Webhooks, timestamp signed)")
    args = parser.parse_args(argv)

    secret = os.environ.get("MODAL_WEBHOOK_SECRET", "").strip()
    local_secret = data / "secret"
    if not secret and local_secret.is_file():
        secret = local_secret.read_text().strip()
    if not secret:
        print("no secret: export MODAL_WEBHOOK_SECRET (or run `npm start`, which saves one in .data/secret)", file=sys.stderr)
        return 2
    success = args.status == "success"
    body = completion_body(args.call_id or f"call-{args.job_id}", args.status, args.job_id, args.batch_id, args.app,
                           result={"affinity": 0.64, "confidence": 0.51} if success else None,
                           error=None if success else {"message": f"call ended with {args.status}", "type": "RuntimeError"})
    try:
        answer = send_completion(args.url, secret, body, attempts=args.attempts, base_delay=0.2, scheme=args.scheme)
    except DeliveryFailed as err:
        print(f"not delivered: {err}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
