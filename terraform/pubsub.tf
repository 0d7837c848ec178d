# Completions flow: topic → Terraform-managed push subscription (OIDC, exponential retry,
# dead-letter topic) → worker. The dead-letter topic's own push subscription brings what Pub/Sub
# gave up on back to the worker, which records it in the dead_letters collection the admin API and
# its operator page read. Batch events go to their own topic for downstream consumers.

locals {
  # Completions are kept a week, so that a worker outage loses nothing. The reconciler's ticks are
  # published by Cloud Scheduler (operations.tf).
  topics = {
    completions             = { name = local.names.completions, retention = "604800s" }
    completions_dead_letter = { name = local.names.completions_dlq, retention = null }
    batch_events            = { name = local.names.batch_events, retention = null }
    reconcile_ticks         = { name = local.names.reconcile_ticks, retention = null }
  }
}

resource "google_pubsub_topic" "topic" {
  for_each = local.topics

  project                    = var.project_id
  name                       = each.value.name
  labels                     = local.labels
  message_retention_duration = each.value.retention
  depends_on                 = [time_sleep.apis_ready]
}

# The push subscriptions, each delivering to a private function with the push identity's OIDC
# token: completions to the worker (dead-lettered after worker.max_delivery_attempts); the dead
# letters' mirror to the worker, which records each (never applies it) and acknowledges; and the
# reconciler's scheduled ticks (operations.tf). A push subscription rather than an Eventarc trigger:
# no Eventarc service agent to wait for on a new project.
locals {
  push_subscriptions = {
    worker = {
      name         = local.names.worker_push
      topic        = google_pubsub_topic.topic["completions"]
      function     = module.function["worker"]
      ack_deadline = min(var.worker.timeout_seconds + 60, 600)
      retention    = "604800s"
      backoff      = { min = "10s", max = "600s" }
      dead_letters = google_pubsub_topic.topic["completions_dead_letter"].id
    }
    # It keeps the name of the pull subscription it replaced (moved.tf.json): messages that waited
    # there are pushed on the first apply, and recorded. Without a dead-letter policy of its own: a
    # dead letter that cannot be recorded waits here (7 days) and the dead_letters alert fires.
    dead_letters = {
      name         = local.names.dead_letter_hold
      topic        = google_pubsub_topic.topic["completions_dead_letter"]
      function     = module.function["worker"]
      ack_deadline = 60
      retention    = "604800s"
      backoff      = { min = "10s", max = "600s" }
      dead_letters = null
    }
    reconciler = {
      name         = local.names.reconcile_push
      topic        = google_pubsub_topic.topic["reconcile_ticks"]
      function     = module.function["reconciler"]
      ack_deadline = 360
      # Kept for longer than the backlog alert waits (alerts.reconcile_tick_age_seconds, plus its 5
      # minutes and a margin): a tick Pub/Sub discarded first would leave the alert nothing to see.
      retention    = "${local.reconcile_tick_retention_seconds}s"
      backoff      = { min = "30s", max = "300s" }
      dead_letters = null
    }
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = local.push_subscriptions

  project                    = var.project_id
  name                       = each.value.name
  topic                      = each.value.topic.id
  labels                     = local.labels
  ack_deadline_seconds       = each.value.ack_deadline
  message_retention_duration = each.value.retention

  push_config {
    # The /projects/P/topics/T path lets the Functions Framework turn the push into a CloudEvent.
    push_endpoint = "${each.value.function.uri}/projects/${var.project_id}/topics/${each.value.topic.name}"

    oidc_token {
      service_account_email = google_service_account.role["push_invoker"].email
      audience              = each.value.function.uri
    }
  }

  retry_policy {
    minimum_backoff = each.value.backoff.min
    maximum_backoff = each.value.backoff.max
  }

  dynamic "dead_letter_policy" {
    for_each = each.value.dead_letters == null ? [] : [each.value.dead_letters]
    content {
      dead_letter_topic     = dead_letter_policy.value
      max_delivery_attempts = var.worker.max_delivery_attempts
    }
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    # The push identity's invoker grant is the function's own (its module's `iam`).
    module.function,
    google_service_account_iam_member.pubsub_token_creator,
  ]
}
