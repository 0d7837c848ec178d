# The operator's side: the reconciler that Cloud Scheduler runs through Pub/Sub (the migration from
# polling), and the Firestore indexes that it and the admin API's queries need. The functions
# themselves are in functions.tf.

locals {
  reconcile_tick_retention_seconds = var.alerts.reconcile_tick_age_seconds + 900
}

resource "google_pubsub_topic" "reconcile_ticks" {
  project    = var.project_id
  name       = local.names.reconcile_ticks
  labels     = local.labels
  depends_on = [time_sleep.apis_ready]
}

resource "google_cloud_scheduler_job" "reconcile" {
  project     = var.project_id
  region      = var.region
  name        = local.names.reconciler
  description = "Runs the reconciler (COMPLETION_MODE ${var.reconciler.completion_mode})."
  schedule    = var.reconciler.schedule
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.reconcile_ticks.id
    data       = base64encode("{\"tick\":true}")
  }

  depends_on = [time_sleep.apis_ready]
}

# Cloud Scheduler → ticks topic → push subscription (OIDC, like the worker's) → reconciler. A push
# subscription rather than an Eventarc trigger: no Eventarc service agent to wait for on a new project.
resource "google_pubsub_subscription" "reconcile_push" {
  project              = var.project_id
  name                 = local.names.reconcile_push
  topic                = google_pubsub_topic.reconcile_ticks.id
  labels               = local.labels
  ack_deadline_seconds = 360
  # Kept for longer than the backlog alert waits (alerts.reconcile_tick_age_seconds, plus its 5
  # minutes and a margin): a tick Pub/Sub discarded first would leave the alert nothing to see.
  message_retention_duration = "${local.reconcile_tick_retention_seconds}s"

  push_config {
    push_endpoint = "${module.reconciler.uri}/projects/${var.project_id}/topics/${google_pubsub_topic.reconcile_ticks.name}"

    oidc_token {
      service_account_email = google_service_account.push_invoker.email
      audience              = module.reconciler.uri
    }
  }

  retry_policy {
    minimum_backoff = "30s"
    maximum_backoff = "300s"
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_service_iam_member.reconciler_push_invoker,
    google_service_account_iam_member.pubsub_token_creator,
  ]
}

# Active executions (status, oldest first; optionally by batch) and the reconciler's scan.
resource "google_firestore_index" "executions_by_status" {
  project    = var.project_id
  database   = "(default)"
  collection = "executions"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "registered_at"
    order      = "ASCENDING"
  }

  depends_on = [time_sleep.apis_ready, google_firestore_database.default]
}

resource "google_firestore_index" "executions_by_batch" {
  project    = var.project_id
  database   = "(default)"
  collection = "executions"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "batch_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "registered_at"
    order      = "ASCENDING"
  }

  depends_on = [time_sleep.apis_ready, google_firestore_database.default]
}
