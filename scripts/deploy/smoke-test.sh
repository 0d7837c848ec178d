#!/usr/bin/env bash
# After a deploy, proves it works: a signed test delivery through the deployed webhook and worker,
# asked of the admin API with the deploy identity's token, must arrive end to end (the admin API
# answers 200 only when the worker recorded it). Cloud Build's smoke-test step runs it.
#
#   scripts/deploy/smoke-test.sh ADMIN_BASE_URL
#
# The first call of a deploy can meet what a fresh apply has not finished: the invoker grant still
# propagating (403), a function's cold start or a delivery not yet arrived (5xx, 504). Those are
# tried again with backoff (10 s doubling to 60 s, 8 attempts: about 5 minutes), each attempt's
# status printed; any other answer fails at once. SMOKE_ATTEMPTS, SMOKE_FIRST_DELAY_SECONDS and
# SMOKE_MAX_DELAY_SECONDS change that.
set -euo pipefail

base="${1:-}"
if [ -z "$base" ]; then
  echo "usage: $0 ADMIN_BASE_URL" >&2
  exit 2
fi
attempts="${SMOKE_ATTEMPTS:-8}"
delay="${SMOKE_FIRST_DELAY_SECONDS:-10}"
max_delay="${SMOKE_MAX_DELAY_SECONDS:-60}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! token="$(gcloud auth print-identity-token --audiences="$base" 2>"$tmp/token.err")"; then
  cat "$tmp/token.err" >&2
  cat >&2 <<HINT
smoke test: no identity token for $base. The build's account needs roles/iam.serviceAccountOpenIdTokenCreator
on itself and the IAM Service Account Credentials API enabled (scripts/deploy/bootstrap-project.sh does both).
HINT
  exit 1
fi

for attempt in $(seq 1 "$attempts"); do
  code="$(curl -sS -o "$tmp/answer.json" -w '%{http_code}' --max-time 120 -X POST \
    -H "Authorization: Bearer $token" -H 'content-type: application/json' -H 'x-requested-by: omtx' -d '{"wait": true}' \
    "$base/api/v3/webhooks/modal/test" 2>"$tmp/curl.err")" || code=000
  echo "smoke test attempt $attempt/$attempts: HTTP $code $(head -c 300 "$tmp/answer.json" 2>/dev/null || true)"
  case "$code" in
    200)
      echo "smoke test passed: a signed test delivery went through the webhook and the worker"
      exit 0
      ;;
    000 | 401 | 403 | 404 | 429 | 500 | 502 | 503 | 504)
      [ "$code" = 000 ] && cat "$tmp/curl.err" >&2
      ;;
    *)
      echo "smoke test failed: the admin API answered $code, which no wait will change (docs/runbook.md#smoke-test)" >&2
      exit 1
      ;;
  esac
  if [ "$attempt" -lt "$attempts" ]; then
    sleep "$delay"
    delay=$((delay * 2 > max_delay ? max_delay : delay * 2))
  fi
done
echo "smoke test failed: no 200 after $attempts attempts; the last answer is above (docs/runbook.md#smoke-test)" >&2
exit 1
