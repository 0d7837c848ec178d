"""A Modal app that reports its completions to OMTX-Hub and exposes status and cancel endpoints.

Modal has no built-in completion webhook: the function sends one itself when it ends, whatever the
outcome. Deploy with `modal deploy boltz2_app.py` after creating its Modal secret, which
`npm run configure-modal -- --apply` does (or prints the exact command to run):

    modal secret create omtx-webhooks-omtx-boltz2-persistent MODAL_WEBHOOK_SECRET=... \
        OMTX_WEBHOOK_URL=https://.../api/v3/webhooks/modal/completion OMTX_APP_NAME=omtx-boltz2-persistent --force

The pipeline's reconciler calls POST <status url>/status, the admin API POST <control url>/cancel and,
when configuring, POST <control url>/test-delivery — all signed with the same secret; list this app in
MODAL_APPS as `omtx-boltz2-persistent=<its web URL>` (and MODAL_STATUS_URL for the reconciler).
"""
import os
import time

import modal

from omtx_webhooks import DeliveryFailed, completion_body, send_completion, test_delivery, verify_control

APP_NAME = "omtx-boltz2-persistent"
app = modal.App(APP_NAME)
image = modal.Image.debian_slim().pip_install("fastapi[standard]").add_local_python_source("omtx_webhooks")
secrets = [modal.Secret.from_name(f"omtx-webhooks-{APP_NAME}")]


def _report(call_id: str, status: str, job_id: str, batch_id, result=None, error=None) -> None:
    body = completion_body(call_id, status, job_id, batch_id, app=APP_NAME, result=result, error=error)
    try:
        send_completion(os.environ["OMTX_WEBHOOK_URL"], os.environ["MODAL_WEBHOOK_SECRET"], body)
    except DeliveryFailed as err:
        # The reconciler will still find the call through the status endpoint.
        print(f"completion webhook for {job_id} not delivered: {err}")


@app.function(image=image, gpu="A100", timeout=3600, secrets=secrets)
def boltz2_predict_modal(job_id: str, batch_id: str | None = None, **inputs):
    call_id = modal.current_function_call_id()
    started = time.time()
    try:
        prediction = run_boltz2(**inputs)  # your model code: scores and the structure as base64
    except TimeoutError as err:
        _report(call_id, "timeout", job_id, batch_id, error={"message": str(err), "type": "TimeoutError"})
        raise
    except Exception as err:  # noqa: BLE001 - every failure is reported, then re-raised
        _report(call_id, "failure", job_id, batch_id, error={"message": str(err), "type": type(err).__name__})
        raise
    prediction["execution_time"] = round(time.time() - started, 1)
    _report(call_id, "success", job_id, batch_id, result=prediction)
    return prediction


def run_boltz2(**inputs) -> dict:
    raise NotImplementedError("the Boltz-2 inference goes here")


@app.function(image=image, secrets=secrets)
@modal.asgi_app()
def control():
    from fastapi import FastAPI, HTTPException, Request

    web = FastAPI()

    async def verified(request: Request) -> dict:
        body = await request.body()
        # Method, path, timestamp and body are all signed: a captured /status cannot be replayed to /cancel.
        if not verify_control(os.environ["MODAL_WEBHOOK_SECRET"], request.method, request.url.path, body,
                              request.headers.get("x-omtx-control-signature"), request.headers.get("x-omtx-control-timestamp")):
            raise HTTPException(status_code=401, detail="bad signature")
        import json
        return json.loads(body)

    @web.post("/status")
    async def status(request: Request):
        call_id = (await verified(request))["call_id"]
        call = modal.FunctionCall.from_id(call_id)
        try:
            result = call.get(timeout=0)
        except TimeoutError:
            return {"call_id": call_id, "status": "running"}
        except Exception as err:  # noqa: BLE001
            return {"call_id": call_id, "status": "failure", "error": {"message": str(err), "type": type(err).__name__}}
        return {"call_id": call_id, "status": "success", "result": result}

    @web.post("/test-delivery")
    async def send_test_delivery(request: Request):
        await verified(request)
        return test_delivery(APP_NAME, os.environ["OMTX_WEBHOOK_URL"], os.environ["MODAL_WEBHOOK_SECRET"])

    @web.post("/cancel")
    async def cancel(request: Request):
        call_id = (await verified(request))["call_id"]
        modal.FunctionCall.from_id(call_id).cancel()
        return {"call_id": call_id, "cancelled": True}

    return web
