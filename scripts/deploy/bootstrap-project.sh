#!/usr/bin/env bash
# One-time preparation of a fresh Google Cloud project for `terraform apply` (docs/deploy.md).
#
#   scripts/deploy/bootstrap-project.sh PROJECT_ID [REGION] [NAME_PREFIX]
#
# Terraform reads the project (cloudresourcemanager) and enables every other API (serviceusage)
# through two APIs that it cannot enable itself; the Pub/Sub service agent that Terraform grants
# roles to is created here explicitly (the google provider creates service identities only in its
# beta flavour); the state bucket must exist before `terraform init`; and Cloud Build needs its
# two identities (omtx-deployer for main, omtx-ci for branches: docs/deploy.md), each with only
# what it uses. The runtime accounts are created here too, so that the deployer can be made an
# admin of each of them and of no other account (IAM conditions cannot name service accounts:
# iam.googleapis.com is not among the services whose resource names a condition sees). It first
# enables the Org Policy API and checks the policy that would make the public webhook impossible,
# stopping when it cannot read it. Safe to run again.
#
#   OMTX_SKIP_SHARING_CHECK=1   proceed although domain-restricted sharing is enforced (for a
#                               webhook published some other way; the allUsers grant will fail)
set -euo pipefail

project="${1:-}"
region="${2:-us-central1}"
prefix="${3:-omtx}"
if [ -z "$project" ]; then
  echo "usage: $0 PROJECT_ID [REGION] [NAME_PREFIX]" >&2
  exit 2
fi
# shellcheck source=deployer-access.sh
. "$(dirname "$0")/deployer-access.sh"

# A new service account may not be usable for a minute or more ("does not exist"): a grant on one
# is tried again, 5 s doubling, six times in all (about 2.5 minutes), then stops naming it.
retry() {
  local delay="${OMTX_RETRY_SECONDS:-5}"
  for attempt in 1 2 3 4 5 6; do
    if "$@" 2>"$tmp/retry.err"; then return 0; fi
    if [ "$attempt" = 6 ]; then
      echo "Gave up after $attempt attempts: $*" >&2
      cat "$tmp/retry.err" >&2
      return 1
    fi
    echo "  not yet ($(head -c 160 "$tmp/retry.err" | tr '\n' ' ')); again in ${delay}s" >&2
    sleep "$delay"
    delay=$((delay * 2))
  done
}
state_bucket="${project}-tfstate"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== enabling the APIs this script and Terraform's first plan need"
# Org Policy first: without it the check below could not read the policy. IAM Service Account
# Credentials lets the deploy identity mint the identity token of Cloud Build's smoke test.
gcloud services enable orgpolicy.googleapis.com cloudresourcemanager.googleapis.com serviceusage.googleapis.com \
  pubsub.googleapis.com iamcredentials.googleapis.com --project="$project"

echo "== organisation policy: may allUsers invoke the webhook?"
# Domain-restricted sharing (iam.allowedPolicyMemberDomains, or its managed successor
# iam.managed.allowedPolicyMembers) refuses the webhook's allUsers run.invoker grant: the apply
# would fail half-way and Modal could never reach the webhook. Checked before anything is created.
# A describe that fails (no permission, API not ready) stops here: an unread policy is not an
# unrestricted one.
restricted=""
for constraint in iam.allowedPolicyMemberDomains iam.managed.allowedPolicyMembers; do
  if ! effective="$(gcloud org-policies describe "$constraint" --project="$project" --effective --format=json 2>"$tmp/describe.err")"; then
    echo "Could not read the organisation policy $constraint on $project:" >&2
    cat "$tmp/describe.err" >&2
    echo "Grant yourself roles/orgpolicy.policyViewer (or wait a minute for orgpolicy.googleapis.com), then run this script again." >&2
    exit 1
  fi
  if printf '%s' "$effective" | grep -Eq '"(allowedValues|enforce": true)' && ! printf '%s' "$effective" | grep -q '"allowAll": true'; then
    restricted="$restricted $constraint"
  fi
done
if [ -n "$restricted" ] && [ "${OMTX_SKIP_SHARING_CHECK:-}" != 1 ]; then
  cat >&2 <<POLICY
Enforced on $project:$restricted
It forbids granting roles to allUsers, and the webhook must be public (Modal calls it; each request
is verified by its HMAC signature). Ask an organisation policy administrator for an exception on this
project only, for example:

  cat > sharing.yaml <<EOF
  name: projects/$project/policies/iam.allowedPolicyMemberDomains
  spec:
    inheritFromParent: false
    rules:
      - allowAll: true
  EOF
  gcloud org-policies set-policy sharing.yaml

then run this script again. (OMTX_SKIP_SHARING_CHECK=1 goes on regardless: the apply will then fail
on the webhook's allUsers grant.)
POLICY
  exit 1
fi

echo "== creating the Pub/Sub service agent"
gcloud beta services identity create --service=pubsub.googleapis.com --project="$project" >/dev/null

echo "== Terraform state bucket gs://${state_bucket}"
if ! gcloud storage buckets describe "gs://${state_bucket}" --project="$project" >/dev/null 2>&1; then
  gcloud storage buckets create "gs://${state_bucket}" --project="$project" --location="$region" \
    --uniform-bucket-level-access --public-access-prevention
  gcloud storage buckets update "gs://${state_bucket}" --versioning
fi

echo "== Cloud Build identities: omtx-deployer (builds of main) and omtx-ci (branches: logs only)"
deployer="omtx-deployer@$project.iam.gserviceaccount.com"
# Everything Terraform creates, less three roles held more narrowly below. Service accounts: it may
# create them (iam.serviceAccountCreator: create, get, list), and administer the runtime accounts
# only (below), never the project's others.
deploy_roles="serviceusage.serviceUsageAdmin iam.serviceAccountCreator cloudfunctions.admin run.admin pubsub.admin
  storage.admin secretmanager.admin datastore.owner cloudscheduler.admin logging.configWriter monitoring.editor
  logging.logWriter"
for account in omtx-deployer omtx-ci; do
  if ! gcloud iam service-accounts describe "$account@$project.iam.gserviceaccount.com" --project="$project" >/dev/null 2>&1; then
    gcloud iam service-accounts create "$account" --project="$project" --display-name="omtx-modal-webhooks Cloud Build ($account)"
  fi
done
for role in $deploy_roles; do
  retry gcloud projects add-iam-policy-binding "$project" --member="serviceAccount:$deployer" \
    --role="roles/$role" --condition=None >/dev/null
done
quoted="$(printf "'%s', " $granted_roles)"
cat > "$tmp/condition.yaml" <<CONDITION
title: omtx-terraform-grants
description: Only the project roles that terraform/iam.tf grants
expression: api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly([${quoted%, }])
CONDITION
retry gcloud projects add-iam-policy-binding "$project" --member="serviceAccount:$deployer" \
  --role="roles/resourcemanager.projectIamAdmin" --condition-from-file="$tmp/condition.yaml" >/dev/null
# An earlier bootstrap granted these unconditionally on the whole project: take them back.
# (iam.serviceAccountUser is granted by Terraform on the runtime accounts only: deployer_account_id;
# iam.serviceAccountAdmin on every account would let the deployer give itself another's tokens.)
for role in resourcemanager.projectIamAdmin iam.serviceAccountUser iam.serviceAccountAdmin; do
  gcloud projects remove-iam-policy-binding "$project" --member="serviceAccount:$deployer" \
    --role="roles/$role" --condition=None >/dev/null 2>&1 || true
done
# Cloud Build's smoke test asks for an identity token as the deployer (getOpenIdToken on itself).
retry gcloud iam service-accounts add-iam-policy-binding "$deployer" --project="$project" \
  --member="serviceAccount:$deployer" --role="roles/iam.serviceAccountOpenIdTokenCreator" --condition=None >/dev/null
retry gcloud projects add-iam-policy-binding "$project" --member="serviceAccount:omtx-ci@$project.iam.gserviceaccount.com" \
  --role="roles/logging.logWriter" --condition=None >/dev/null

echo "== runtime accounts ($prefix-*): created here, administered by the deployer and by no one else it could become"
for id in $runtime_account_ids; do
  account="$prefix-$id@$project.iam.gserviceaccount.com"
  if ! gcloud iam service-accounts describe "$account" --project="$project" >/dev/null 2>&1; then
    gcloud iam service-accounts create "$prefix-$id" --project="$project"
  fi
  retry gcloud iam service-accounts add-iam-policy-binding "$account" --project="$project" \
    --member="serviceAccount:$deployer" --role="roles/iam.serviceAccountAdmin" --condition=None >/dev/null
done

# The same commands as docs/deploy.md §3 (a test keeps them equal).
cat <<NEXT

Bootstrap done. Next (from the repository root):
  npm ci
  npm run bundle
  cd terraform
  terraform init -backend-config="bucket=${state_bucket}"
  TF_VAR_project_id=${project} TF_VAR_region=${region} terraform apply -var-file=environments/production.tfvars
NEXT
