#!/usr/bin/env bash
# Before a plan (cloudbuild.yaml, deployer-access): checks in the live project that the deploy
# identity holds what this commit's Terraform needs of it, and names what is missing, instead of an
# apply failing half-way with 403. The repository's lists (deployer-access.sh) are kept equal to
# terraform/ by a test; this checks the project against them (docs/runbook.md#deployer-access).
#
#   scripts/deploy/check-deployer.sh PROJECT_ID [NAME_PREFIX]
set -euo pipefail

project="${1:-}"
prefix="${2:-omtx}"
if [ -z "$project" ]; then
  echo "usage: $0 PROJECT_ID [NAME_PREFIX]" >&2
  exit 2
fi
# shellcheck source=deployer-access.sh
. "$(dirname "$0")/deployer-access.sh"
deployer="serviceAccount:omtx-deployer@$project.iam.gserviceaccount.com"
missing=()

# The project roles it may grant: the condition on its projectIamAdmin binding.
expression="$(gcloud projects get-iam-policy "$project" --flatten=bindings \
  --filter="bindings.role=roles/resourcemanager.projectIamAdmin AND bindings.members=$deployer" \
  --format="value(bindings.condition.expression)")"
for role in $granted_roles; do
  case "$expression" in
    *"'$role'"*) ;;
    *) missing+=("may not grant $role on the project (its projectIamAdmin condition does not name it)") ;;
  esac
done

# The runtime accounts it administers.
for id in $runtime_account_ids; do
  account="$prefix-$id@$project.iam.gserviceaccount.com"
  admins="$(gcloud iam service-accounts get-iam-policy "$account" --project="$project" --flatten=bindings \
    --filter="bindings.role=roles/iam.serviceAccountAdmin" --format="value(bindings.members)" 2>/dev/null || true)"
  case "$admins" in
    *"$deployer"*) ;;
    *) missing+=("does not administer $account") ;;
  esac
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "omtx-deployer cannot do what this commit's Terraform needs on $project:" >&2
  for m in "${missing[@]}"; do echo "  - it $m" >&2; done
  echo "A project owner runs scripts/deploy/bootstrap-project.sh $project REGION $prefix again (docs/runbook.md#deployer-access)." >&2
  exit 1
fi
echo "omtx-deployer may grant: $granted_roles; administers: $(printf "$prefix-%s " $runtime_account_ids)"
