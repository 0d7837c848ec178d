# What the on-call operator sees: log-based metrics from the functions' structured logs, the alert
# policies no SLO covers (slo.tf has the SLOs and their burn-rate alerts), and a dashboard
# (dashboard.tf). Metrics and alerts of one shape are one resource each over a map below.

locals {
  webhook_logs    = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.names.webhook}\""
  worker_logs     = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.names.worker}\""
  reconciler_logs = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.names.reconciler}\""
  user_metric     = "logging.googleapis.com/user"

  metric_names = {
    accepted     = "${var.name_prefix}_webhooks_accepted"
    rejections   = "${var.name_prefix}_signature_rejections"
    completion   = "${var.name_prefix}_completions"
    latency      = "${var.name_prefix}_processing_latency"
    finalization = "${var.name_prefix}_batch_finalization_latency"
    dead         = "${var.name_prefix}_dead_lettered_messages"
    errors       = "${var.name_prefix}_worker_errors"
    stale        = "${var.name_prefix}_executions_stale"
    poll         = "${var.name_prefix}_poll_failures"
    passes       = "${var.name_prefix}_reconciler_passes"
  }

  # Counts of log lines, one metric each; `labels` are read from the line (name → jsonPayload field).
  log_counters = {
    accepted   = { logs = local.webhook_logs, match = "jsonPayload.event=\"webhookAccepted\"", labels = {}, description = "Webhooks verified and published to Pub/Sub." }
    rejections = { logs = local.webhook_logs, match = "jsonPayload.event=\"signatureRejected\"", labels = { reason = "jsonPayload.reason" }, description = "Webhooks rejected with 401, by reason code (missing_signature, bad_signature, stale_timestamp, …)." }
    completion = { logs = local.worker_logs, match = "jsonPayload.event=\"completionApplied\"", labels = { status = "jsonPayload.status", source = "jsonPayload.source" }, description = "Completions applied to jobs, by resulting job status and source (webhook or poll)." }
    dead       = { logs = local.worker_logs, match = "jsonPayload.event=\"messageDeadLettered\"", labels = {}, description = "Messages the worker could never process (recorded in the dead_letters collection)." }
    errors     = { logs = local.worker_logs, match = "severity>=ERROR", labels = {}, description = "Worker log lines at ERROR or above (transient failures that Pub/Sub redelivers, crashes)." }
    stale      = { logs = local.reconciler_logs, match = "jsonPayload.event=\"executionStale\"", labels = {}, description = "Running executions the reconciler marked stale: no webhook (and no poll answer) within reconciler.stale_after_seconds — a completion went missing." }
    poll       = { logs = local.reconciler_logs, match = "jsonPayload.event=\"pollFailed\"", labels = {}, description = "Reconciler polls of Modal's status endpoint that failed (dual and webhook_primary modes)." }
    passes     = { logs = local.reconciler_logs, match = "jsonPayload.event=\"reconcileFinished\"", labels = {}, description = "Reconciler passes that finished (one per Cloud Scheduler tick): their absence means the reconciler no longer runs." }
  }

  # Latencies in milliseconds, bucketed at the bounds the SLOs cut at (slo.tf): a threshold between
  # bounds would count part of a bucket.
  log_latencies = {
    latency      = { logs = local.worker_logs, match = "jsonPayload.event=\"completionApplied\"", field = "processing_latency_ms", description = "Webhook received → job document applied, in milliseconds." }
    finalization = { logs = local.worker_logs, match = "jsonPayload.event=\"batchCompleted\" AND jsonPayload.finalization_latency_ms>=0", field = "finalization_latency_ms", description = "Webhook of the completion that finished a batch → batch completed, in milliseconds." }
  }

  # The metric type of each log-based metric, for filters.
  metric_types = { for k, name in local.metric_names : k => "${local.user_metric}/${name}" }
}

resource "google_logging_metric" "counter" {
  for_each = local.log_counters

  project     = var.project_id
  name        = local.metric_names[each.key]
  description = each.value.description
  filter      = "${each.value.logs} AND ${each.value.match}"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    dynamic "labels" {
      for_each = each.value.labels
      content {
        key        = labels.key
        value_type = "STRING"
      }
    }
  }
  label_extractors = { for label, field in each.value.labels : label => "EXTRACT(${field})" }
  depends_on       = [time_sleep.apis_ready]
}

resource "google_logging_metric" "latency" {
  for_each = local.log_latencies

  project         = var.project_id
  name            = local.metric_names[each.key]
  description     = each.value.description
  filter          = "${each.value.logs} AND ${each.value.match}"
  value_extractor = "EXTRACT(jsonPayload.${each.value.field})"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"
  }
  bucket_options {
    explicit_buckets {
      bounds = local.latency_bounds_ms
    }
  }
  depends_on = [time_sleep.apis_ready]
}

# A new log-based metric can be unknown to Monitoring for up to 10 minutes after it is created
# (the Monitoring API's own error, quoted in terraform-provider-google#11102: alert policies and SLOs
# then fail with 404). They wait for the functions and then 10 minutes — on the first apply, and
# again on an apply that changes the set of metric names (the trigger), and only then. Those
# 10 minutes count against Cloud Build's timeout (cloudbuild.yaml, 3600 s; a test keeps it above).
resource "time_sleep" "log_metrics_ready" {
  create_duration = "600s"
  triggers = {
    metrics = join(",", sort(concat([for m in google_logging_metric.counter : m.name], [for m in google_logging_metric.latency : m.name])))
  }
  depends_on = [google_logging_metric.counter, google_logging_metric.latency, module.webhook, module.function]
}

locals {
  # The alerts of one shape: thresholds on a metric, each with its runbook section. A condition's
  # `reducer` sums the series of every revision (null: one series already).
  threshold_alerts = {
    executions_stale = {
      display_name = "executions went stale (missing webhooks)"
      severity     = "ERROR"
      conditions = [{
        display_name = "Reconciler marked executions stale"
        filter       = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.metric_types.stale}\""
        threshold    = 0
        duration     = "0s"
        period       = "600s"
        aligner      = "ALIGN_DELTA"
        reducer      = "REDUCE_SUM"
      }]
      what    = "A running execution got no webhook within ${var.reconciler.stale_after_seconds}s: a completion went missing (Modal could not reach the webhook, or its signature was refused)."
      runbook = "executions-stale"
    }
    poll_failures = {
      display_name = "reconciler cannot poll Modal"
      severity     = "WARNING"
      conditions = [{
        display_name = "Polls failing for 15 minutes"
        filter       = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.metric_types.poll}\""
        threshold    = 0
        duration     = "900s"
        period       = "600s"
        aligner      = "ALIGN_DELTA"
        reducer      = "REDUCE_SUM"
      }]
      what    = "The reconciler's polls of reconciler.modal_status_url fail, so a missing webhook is not caught by polling."
      runbook = "poll-failures"
    }
    reconcile_backlog = {
      display_name = "reconciler ticks not processed"
      severity     = "WARNING"
      conditions = [{
        display_name = "Oldest unacked reconcile tick older than ${var.alerts.reconcile_tick_age_seconds}s"
        filter       = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.push["reconciler"].name}\" AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
        threshold    = var.alerts.reconcile_tick_age_seconds
        duration     = "300s"
        period       = "60s"
        aligner      = "ALIGN_MAX"
        reducer      = null
      }]
      what    = "The reconciler is not running its scheduled passes (it fails, or cannot be reached): missing webhooks are neither polled nor marked stale."
      runbook = "reconciler-backlog"
    }
    dead_letters = {
      display_name = "completions dead-lettered"
      severity     = "ERROR"
      conditions = [
        {
          display_name = "Dead letters not yet recorded (the mirror's backlog) > 0"
          filter       = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.push["dead_letters"].name}\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
          threshold    = 0
          duration     = "60s"
          period       = "60s"
          aligner      = "ALIGN_MAX"
          reducer      = null
        },
        {
          display_name = "Worker recorded a poison message in dead_letters"
          filter       = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.metric_types.dead}\""
          threshold    = 0
          duration     = "0s"
          period       = "300s"
          aligner      = "ALIGN_DELTA"
          reducer      = null
        },
      ]
      what    = "Completions could not be applied. Open the operator page's Dead letters (docs/operations.md#the-operator-page) or run `npm run dead-letters -- list` for the reasons; fix, then replay them there."
      runbook = "dead-letters"
    }
    backlog_age = {
      display_name = "completions waiting too long"
      severity     = "WARNING"
      conditions = [{
        display_name = "Oldest unacked completion older than ${var.alerts.oldest_unacked_age_seconds}s"
        filter       = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.push["worker"].name}\" AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
        threshold    = var.alerts.oldest_unacked_age_seconds
        duration     = "300s"
        period       = "60s"
        aligner      = "ALIGN_MAX"
        reducer      = null
      }]
      what    = "The worker is not keeping up or keeps failing: check `${local.metric_names.errors}` and the worker's logs (`jsonPayload.event=\"completionFailed\"`)."
      runbook = "backlog-age"
    }
    signature_rejections = {
      display_name = "webhook signature rejections spike"
      severity     = "WARNING"
      conditions = [{
        display_name = "More than ${var.alerts.signature_rejections_per_min} rejections per minute"
        filter       = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.metric_types.rejections}\""
        threshold    = var.alerts.signature_rejections_per_min
        duration     = "120s"
        period       = "60s"
        aligner      = "ALIGN_DELTA"
        reducer      = "REDUCE_SUM"
      }]
      what    = "Many webhooks fail verification. By reason: `bad_signature` = secrets differ (rotation?), `stale_timestamp` = clock skew or delays, `missing_*` = not Modal."
      runbook = "signature-rejections"
    }
    worker_errors = {
      display_name = "completion worker errors"
      severity     = "ERROR"
      conditions = [{
        display_name = "Worker logged errors"
        filter       = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.metric_types.errors}\""
        threshold    = 0
        duration     = "300s"
        period       = "300s"
        aligner      = "ALIGN_DELTA"
        reducer      = "REDUCE_SUM"
      }]
      what    = "The worker keeps failing on some completions (Firestore or Storage unavailable, permission errors). Pub/Sub redelivers; after ${var.worker.max_delivery_attempts} attempts messages go to the dead-letter topic."
      runbook = "worker-errors"
    }
  }
}

resource "google_monitoring_alert_policy" "threshold" {
  for_each = local.threshold_alerts

  project               = var.project_id
  display_name          = "${var.name_prefix}: ${each.value.display_name}"
  combiner              = "OR"
  severity              = each.value.severity
  notification_channels = var.notification_channels
  user_labels           = local.labels

  dynamic "conditions" {
    for_each = each.value.conditions
    content {
      display_name = conditions.value.display_name
      condition_threshold {
        filter          = conditions.value.filter
        comparison      = "COMPARISON_GT"
        threshold_value = conditions.value.threshold
        duration        = conditions.value.duration
        aggregations {
          alignment_period     = conditions.value.period
          per_series_aligner   = conditions.value.aligner
          cross_series_reducer = conditions.value.reducer
        }
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "${each.value.what} Runbook: docs/runbook.md#${each.value.runbook}."
  }

  depends_on = [time_sleep.log_metrics_ready]
}

# Cloud Scheduler stopped, or the reconciler never finishes a pass: no tick backlog may build up
# (the ticks may not even be published), so the backlog alert sees nothing. This one fires on the
# absence of finished passes. Summed over revisions, so a deploy (a new revision's series) is not
# an absence. Monitoring arms an absence condition only once the metric has had a point after the
# policy was created or last modified: a reconciler that never ran once is not caught here (the tick
# backlog is), and every apply that edits this policy (notification channels, the window) disarms
# it until the reconciler's next finished pass.
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
      filter   = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.metric_types.passes}\""
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
