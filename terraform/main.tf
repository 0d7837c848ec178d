# Project, APIs and names shared by the other files. cloudresourcemanager and serviceusage must be
# enabled before the first plan (it reads the project and enables the rest through them):
# scripts/deploy/bootstrap-project.sh does it once per project.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    # Identity tokens for Cloud Build's smoke test (also enabled by the bootstrap, before any build).
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
  ]

  # Created by scripts/deploy/bootstrap-project.sh (`gcloud beta services identity create`) before the first
  # apply: the google provider creates service identities only in its beta flavour.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  names = {
    webhook          = "${var.name_prefix}-modal-webhook"
    worker           = "${var.name_prefix}-completion-worker"
    admin            = "${var.name_prefix}-webhook-admin"
    reconciler       = "${var.name_prefix}-reconciler"
    reconcile_ticks  = "${var.name_prefix}-reconcile-ticks"
    reconcile_push   = "${var.name_prefix}-reconciler-push"
    completions      = "${var.name_prefix}-modal-completions"
    completions_dlq  = "${var.name_prefix}-modal-completions-dead-letter"
    batch_events     = "${var.name_prefix}-batch-events"
    worker_push      = "${var.name_prefix}-completion-worker-push"
    dead_letter_hold = "${var.name_prefix}-modal-completions-dead-letter-hold"
    secret           = "${var.name_prefix}-modal-webhook-secret"
    results_bucket   = "${var.project_id}-${var.name_prefix}-results"
    source_bucket    = "${var.project_id}-${var.name_prefix}-function-source"
  }

  labels = merge({ app = "omtx-modal-webhooks" }, var.labels)
}

resource "google_project_service" "apis" {
  for_each = toset(local.apis)

  project                    = var.project_id
  service                    = each.value
  disable_on_destroy         = false
  disable_dependent_services = false
}

# A newly enabled API answers before it is usable everywhere (service agents, IAM on its resources).
resource "time_sleep" "apis_ready" {
  create_duration = "60s"
  triggers        = { apis = join(",", sort([for s in google_project_service.apis : s.service])) }
}
