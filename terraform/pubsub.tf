# Completions flow: topic → Terraform-managed push subscription (OIDC, exponential retry,
# dead-letter topic) → worker. The dead-letter topic has its own subscription, or dead letters would
# be lost. Batch events go to their own topic for downstream consumers.

resource "google_pubsub_topic" "completions" {
  project                    = var.project_id
  name                       = local.names.completions
  labels                     = local.labels
  message_retention_duration = "604800s"
  depends_on                 = [time_sleep.apis_ready]
}

resource "google_pubsub_topic" "completions_dead_letter" {
  project    = var.project_id
  name       = local.names.completions_dlq
  labels     = local.labels
  depends_on = [time_sleep.apis_ready]
}

resource "google_pubsub_subscription" "dead_letter_hold" {
  project                    = var.project_id
  name                       = local.names.dead_letter_hold
  topic                      = google_pubsub_topic.completions_dead_letter.id
  labels                     = local.labels
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = true

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "worker_push" {
  project                    = var.project_id
  name                       = local.names.worker_push
  topic                      = google_pubsub_topic.completions.id
  labels                     = local.labels
  ack_deadline_seconds       = min(var.worker.timeout_seconds + 60, 600)
  message_retention_duration = "604800s"

  push_config {
    # The /projects/P/topics/T path lets the Functions Framework turn the push into a CloudEvent.
    push_endpoint = "${module.worker.uri}/projects/${var.project_id}/topics/${google_pubsub_topic.completions.name}"

    oidc_token {
      service_account_email = google_service_account.push_invoker.email
      audience              = module.worker.uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.completions_dead_letter.id
    max_delivery_attempts = var.worker.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_service_iam_member.worker_push_invoker,
    google_service_account_iam_member.pubsub_token_creator,
  ]
}

resource "google_pubsub_topic" "batch_events" {
  project    = var.project_id
  name       = local.names.batch_events
  labels     = local.labels
  depends_on = [time_sleep.apis_ready]
}
