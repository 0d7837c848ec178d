# Project, APIs and names shared by the other files.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]

  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  names = {
    webhook          = "${var.name_prefix}-modal-webhook"
    worker           = "${var.name_prefix}-completion-worker"
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
