# What the on-call operator sees: log-based metrics from the functions' structured logs, alert
# policies, and a dashboard (dashboard.tf).

locals {
  webhook_logs    = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.names.webhook}\""
  worker_logs     = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.names.worker}\""
  reconciler_logs = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.names.reconciler}\""

  metric_names = {
    accepted   = "${var.name_prefix}_webhooks_accepted"
    rejections = "${var.name_prefix}_signature_rejections"
    completion = "${var.name_prefix}_completions"
    latency    = "${var.name_prefix}_processing_latency"
    dead       = "${var.name_prefix}_dead_lettered_messages"
    errors     = "${var.name_prefix}_worker_errors"
    stale      = "${var.name_prefix}_executions_stale"
    poll       = "${var.name_prefix}_poll_failures"
    passes     = "${var.name_prefix}_reconciler_passes"
  }
}

resource "google_logging_metric" "webhooks_accepted" {
  project     = var.project_id
  name        = local.metric_names.accepted
  description = "Webhooks verified and published to Pub/Sub."
  filter      = "${local.webhook_logs} AND jsonPayload.event=\"webhookAccepted\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
  depends_on = [time_sleep.apis_ready]
}

resource "google_logging_metric" "signature_rejections" {
  project     = var.project_id
  name        = local.metric_names.rejections
  description = "Webhooks rejected with 401, by reason code."
  filter      = "${local.webhook_logs} AND jsonPayload.event=\"signatureRejected\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "reason"
      value_type  = "STRING"
      description = "missing_signature, bad_signature, stale_timestamp, …"
    }
  }
  label_extractors = {
    reason = "EXTRACT(jsonPayload.reason)"
  }
  depends_on = [time_sleep.apis_ready]
}

resource "google_logging_metric" "completions" {
  project     = var.project_id
  name        = local.metric_names.completion
  description = "Completions applied to jobs, by resulting job status and source (webhook or poll)."
  filter      = "${local.worker_logs} AND jsonPayload.event=\"completionApplied\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "status"
      value_type = "STRING"
    }
    labels {
      key        = "source"
      value_type = "STRING"
    }
  }
  label_extractors = {
    status = "EXTRACT(jsonPayload.status)"
    source = "EXTRACT(jsonPayload.source)"
  }
  depends_on = [time_sleep.apis_ready]
}

resource "google_logging_metric" "processing_latency" {
  project         = var.project_id
  name            = local.metric_names.latency
  description     = "Webhook received → job document applied, in milliseconds."
  filter          = "${local.worker_logs} AND jsonPayload.event=\"completionApplied\""
  value_extractor = "EXTRACT(jsonPayload.processing_latency_ms)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"
  }
  # The bounds the SLOs cut at (slo.tf): a threshold between bounds would count part of a bucket.
  bucket_options {
    explicit_buckets {
      bounds = local.latency_bounds_ms
    }
  }
  depends_on = [time_sleep.apis_ready]
}

resource "google_logging_metric" "dead_lettered" {
  project     = var.project_id
  name        = local.metric_names.dead
  description = "Messages the worker could never process (recorded in the dead_letters collection)."
  filter      = "${local.worker_logs} AND jsonPayload.event=\"messageDeadLettered\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
  depends_on = [time_sleep.apis_ready]
}

resource "google_logging_metric" "worker_errors" {
  project     = var.project_id
  name        = local.metric_names.errors
  description = "Worker log lines at ERROR or above (transient failures that Pub/Sub redelivers, crashes)."
  filter      = "${local.worker_logs} AND severity>=ERROR"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
  depends_on = [time_sleep.apis_ready]
}

resource "google_logging_metric" "executions_stale" {
  project     = var.project_id
  name        = local.metric_names.stale
  description = "Running executions the reconciler marked stale: no webhook (and no poll answer) within reconciler.stale_after_seconds — a completion went missing."
  filter      = "${local.reconciler_logs} AND jsonPayload.event=\"executionStale\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
  depends_on = [time_sleep.apis_ready]
}

resource "google_logging_metric" "poll_failures" {
  project     = var.project_id
  name        = local.metric_names.poll
  description = "Reconciler polls of Modal's status endpoint that failed (dual and webhook_primary modes)."
  filter      = "${local.reconciler_logs} AND jsonPayload.event=\"pollFailed\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
  depends_on = [time_sleep.apis_ready]
}

resource "google_logging_metric" "reconciler_passes" {
  project     = var.project_id
  name        = local.metric_names.passes
  description = "Reconciler passes that finished (one per Cloud Scheduler tick): their absence means the reconciler no longer runs."
  filter      = "${local.reconciler_logs} AND jsonPayload.event=\"reconcileFinished\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
  depends_on = [time_sleep.apis_ready]
}

# A new log-based metric can be unknown to Monitoring for minutes after it is created
# (terraform-provider-google#11102: alert policies then fail with 404). Alerts and SLOs on them wait
# for the functions, whose builds take several minutes, and then a minute more — on the first apply,
# and again on any apply that adds a metric (the trigger is the set of metric names).
resource "time_sleep" "log_metrics_ready" {
  create_duration = "60s"
  triggers = {
    metrics = join(",", sort([for m in [
      google_logging_metric.webhooks_accepted, google_logging_metric.signature_rejections, google_logging_metric.completions,
      google_logging_metric.processing_latency, google_logging_metric.dead_lettered, google_logging_metric.worker_errors,
      google_logging_metric.executions_stale, google_logging_metric.poll_failures, google_logging_metric.reconciler_passes,
      google_logging_metric.batch_finalization_latency,
    ] : m.name]))
  }
  depends_on = [
    google_logging_metric.signature_rejections,
    google_logging_metric.dead_lettered,
    google_logging_metric.worker_errors,
    google_logging_metric.processing_latency,
    google_logging_metric.executions_stale,
    google_logging_metric.poll_failures,
    google_logging_metric.reconciler_passes,
    google_logging_metric.batch_finalization_latency,
    module.webhook,
    module.worker,
    module.reconciler,
  ]
}

resource "google_monitoring_alert_policy" "executions_stale" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: executions went stale (missing webhooks)"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "Reconciler marked executions stale"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.executions_stale.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A running execution got no webhook within ${var.reconciler.stale_after_seconds}s: a completion went missing (Modal could not reach the webhook, or its signature was refused). Runbook: docs/runbook.md#executions-stale."
  }

  depends_on = [time_sleep.log_metrics_ready]
}

resource "google_monitoring_alert_policy" "poll_failures" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: reconciler cannot poll Modal"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "Polls failing for 15 minutes"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.poll_failures.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "900s"
      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The reconciler's polls of reconciler.modal_status_url fail, so a missing webhook is not caught by polling. Runbook: docs/runbook.md#poll-failures."
  }

  depends_on = [time_sleep.log_metrics_ready]
}

resource "google_monitoring_alert_policy" "reconcile_backlog" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: reconciler ticks not processed"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "Oldest unacked reconcile tick older than ${var.alerts.reconcile_tick_age_seconds}s"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.reconcile_push.name}\" AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alerts.reconcile_tick_age_seconds
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The reconciler is not running its scheduled passes (it fails, or cannot be reached): missing webhooks are neither polled nor marked stale. Runbook: docs/runbook.md#reconciler-backlog."
  }

  depends_on = [time_sleep.apis_ready]
}

# Cloud Scheduler stopped, or the reconciler never finishes a pass: no tick backlog may build up
# (the ticks may not even be published), so the backlog alert sees nothing. This one fires on the
# absence of finished passes. Summed over revisions, so a deploy (a new revision's series) is not
# an absence. Monitoring arms an absence condition only once the metric has had a point after the
# policy was created: a reconciler that never ran once is not caught here (the tick backlog is).
resource "google_monitoring_alert_policy" "reconciler_silent" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: reconciler not running"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "No finished reconciler pass for ${var.alerts.reconciler_silence_seconds}s"
    condition_absent {
      filter   = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.reconciler_passes.name}\""
      duration = "${var.alerts.reconciler_silence_seconds}s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "No reconciler pass finished for ${var.alerts.reconciler_silence_seconds}s: Cloud Scheduler does not publish ticks, or every pass fails before its end. Missing webhooks are neither polled nor marked stale. Runbook: docs/runbook.md#reconciler-silent."
  }

  depends_on = [time_sleep.log_metrics_ready]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: completions dead-lettered"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "Dead-letter subscription backlog > 0"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.dead_letter_hold.name}\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "60s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  conditions {
    display_name = "Worker recorded a poison message in dead_letters"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.dead_lettered.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_DELTA"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Completions could not be applied. Pull `${google_pubsub_subscription.dead_letter_hold.name}` and read the `dead_letters` collection for the reasons, fix, then replay. Runbook: docs/runbook.md#dead-letters."
  }

  depends_on = [time_sleep.log_metrics_ready]
}

resource "google_monitoring_alert_policy" "backlog_age" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: completions waiting too long"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "Oldest unacked completion older than ${var.alerts.oldest_unacked_age_seconds}s"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.worker_push.name}\" AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alerts.oldest_unacked_age_seconds
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The worker is not keeping up or keeps failing: check `${local.metric_names.errors}` and the worker's logs (`jsonPayload.event=\"completionFailed\"`). Runbook: docs/runbook.md#backlog-age."
  }

  depends_on = [time_sleep.apis_ready]
}

resource "google_monitoring_alert_policy" "signature_rejections" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: webhook signature rejections spike"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "More than ${var.alerts.signature_rejections_per_min} rejections per minute"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.signature_rejections.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alerts.signature_rejections_per_min
      duration        = "120s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Many webhooks fail verification. By reason: `bad_signature` = secrets differ (rotation?), `stale_timestamp` = clock skew or delays, `missing_*` = not Modal. Runbook: docs/runbook.md#signature-rejections."
  }

  depends_on = [time_sleep.log_metrics_ready]
}

resource "google_monitoring_alert_policy" "worker_errors" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: completion worker errors"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "Worker logged errors"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.worker_errors.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The worker keeps failing on some completions (Firestore or Storage unavailable, permission errors). Pub/Sub redelivers; after ${var.worker.max_delivery_attempts} attempts messages go to the dead-letter topic. Runbook: docs/runbook.md#worker-errors."
  }

  depends_on = [time_sleep.log_metrics_ready]
}
