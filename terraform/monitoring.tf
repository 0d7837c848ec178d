# What the on-call operator sees: log-based metrics from the functions' structured logs, alert
# policies, and a dashboard (dashboard.tf).

locals {
  webhook_logs = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.names.webhook}\""
  worker_logs  = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.names.worker}\""

  metric_names = {
    accepted   = "${var.name_prefix}_webhooks_accepted"
    rejections = "${var.name_prefix}_signature_rejections"
    completion = "${var.name_prefix}_completions"
    latency    = "${var.name_prefix}_processing_latency"
    dead       = "${var.name_prefix}_dead_lettered_messages"
    errors     = "${var.name_prefix}_worker_errors"
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
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 20
      growth_factor      = 2
      scale              = 5
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

# A new log-based metric takes a moment before alert policies can reference it.
resource "time_sleep" "log_metrics_ready" {
  create_duration = "60s"
  depends_on = [
    google_logging_metric.signature_rejections,
    google_logging_metric.dead_lettered,
    google_logging_metric.worker_errors,
  ]
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
    content   = "Completions could not be applied. Pull `${google_pubsub_subscription.dead_letter_hold.name}` and read the `dead_letters` collection for the reasons (docs/deploy.md, \"Alerts\"). Fix, then replay."
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
    content   = "The worker is not keeping up or keeps failing: check `${local.metric_names.errors}` and the worker's logs (`jsonPayload.event=\"completionFailed\"`)."
  }

  depends_on = [time_sleep.apis_ready]
}

resource "google_monitoring_alert_policy" "webhook_5xx" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: webhook answering 5xx"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "Webhook 5xx above ${var.alerts.webhook_5xx_per_second}/s"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.names.webhook}\" AND metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code_class=\"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alerts.webhook_5xx_per_second
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Modal's completions are being refused (503 = Pub/Sub or the bucket unavailable; Modal retries). Look for `jsonPayload.event=\"publishFailed\"`."
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
    content   = "Many webhooks fail verification. By reason: `bad_signature` = secrets differ (rotation?), `stale_timestamp` = clock skew or delays, `missing_*` = not Modal. See docs/deploy.md."
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
    content   = "The worker keeps failing on some completions (Firestore or Storage unavailable, permission errors). Pub/Sub redelivers; after ${var.worker.max_delivery_attempts} attempts messages go to the dead-letter topic."
  }

  depends_on = [time_sleep.log_metrics_ready]
}
