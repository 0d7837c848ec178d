#!/usr/bin/env bash
# One-time preparation of a fresh Google Cloud project for `terraform apply` (docs/deploy.md).
#
#   scripts/deploy/bootstrap-project.sh PROJECT_ID [REGION]
#
# Terraform reads the project (cloudresourcemanager) and enables every other API (serviceusage)
# through two APIs that it cannot enable itself; the Pub/Sub service agent that Terraform grants
# roles to is created here explicitly (the google provider creates service identities only in its
# beta flavour); and the state bucket must exist before `terraform init`. Safe to run again.
set -euo pipefail

project="${1:-}"
region="${2:-us-central1}"
if [ -z "$project" ]; then
  echo "usage: $0 PROJECT_ID [REGION]" >&2
  exit 2
fi
state_bucket="${project}-tfstate"

echo "== enabling the APIs Terraform needs before its first plan"
gcloud services enable cloudresourcemanager.googleapis.com serviceusage.googleapis.com pubsub.googleapis.com \
  --project="$project"

echo "== creating the Pub/Sub service agent"
gcloud beta services identity create --service=pubsub.googleapis.com --project="$project" >/dev/null

echo "== Terraform state bucket gs://${state_bucket}"
if ! gcloud storage buckets describe "gs://${state_bucket}" --project="$project" >/dev/null 2>&1; then
  gcloud storage buckets create "gs://${state_bucket}" --project="$project" --location="$region" \
    --uniform-bucket-level-access --public-access-prevention
  gcloud storage buckets update "gs://${state_bucket}" --versioning
fi

cat <<NEXT

Bootstrap done. Next (from the repository root):
  npm run bundle
  cd terraform
  terraform init -backend-config="bucket=${state_bucket}"
  terraform apply -var="project_id=${project}" -var="region=${region}"
NEXT
