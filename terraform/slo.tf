# Service level objectives for what Modal and OMTX-Hub feel, with multi-window burn-rate alerts
# (Google SRE workbook, "Alerting on SLOs": a fast burn pages, a slow burn opens a ticket), and an
# uptime check of the public health URL. docs/runbook.md says, per alert, what to look at and do.
#
#   webhook availability  Modal's completion requests answered without a 5xx (Cloud Run's own
#                         request count for the webhook service: every request, ours or the
#                         framework's, is counted).
#   completion freshness  completions applied within slo.freshness_seconds of the webhook's receipt
#                         (the worker's `completionApplied` lines, field processing_latency_ms).
#   batch completion      batches finalised within slo.batch_seconds of the webhook of the
#                         completion that finished them (`batchCompleted`, finalization_latency_ms).
#
# A request-based SLI only sees what happened: a completion that never arrives, or a batch that
# never finalises, has no latency to count. The backlog-age alert (monitoring.tf) and the
# reconciler's executionStale alert cover those.

locals {
  # Bucket bounds of the two latency metrics, in ms. An SLO's threshold must be one of them, so
  # that a distribution cut counts whole buckets (variables.tf checks it).
  latency_bounds_ms = [50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000, 600000, 1800000]

  # The workbook's two alerting burns: 2 % of the budget spent in an hour pages, 5 % in six hours
  # is a ticket. A burn rate is budget spent ÷ time elapsed, both as shares of the SLO's window, so
  # the thresholds follow slo.rolling_days (14.4 and 6 for 30 days; 13.44 and 5.6 for 28).
  slo_window_hours = var.slo.rolling_days * 24
  slo_burn_policies = {
    fast = { long = "3600s", short = "300s", burn = 0.02 * local.slo_window_hours / 1, severity = "CRITICAL", what = "page: 2 % of the error budget spent in one hour" }
    slow = { long = "21600s", short = "1800s", burn = 0.05 * local.slo_window_hours / 6, severity = "WARNING", what = "ticket: 5 % of the error budget spent in six hours" }
  }

  slos = {
    webhook_availability = {
      display = local.slo_display.webhook_availability
      slo     = google_monitoring_slo.webhook_availability.name
      goal    = var.slo.webhook_availability_goal
    }
    completion_freshness = {
      display = local.slo_display.completion_freshness
      slo     = google_monitoring_slo.latency["completion_freshness"].name
      goal    = var.slo.freshness_goal
    }
    batch_completion = {
      display = local.slo_display.batch_completion
      slo     = google_monitoring_slo.latency["batch_completion"].name
      goal    = var.slo.batch_goal
    }
  }
  # The two latency SLOs: the share of the metric's points at or below a bucket bound.
  latency_slos = {
    completion_freshness = { id = "completion-freshness", metric = local.metric_types.latency, goal = var.slo.freshness_goal, seconds = var.slo.freshness_seconds }
    batch_completion     = { id = "batch-completion", metric = local.metric_types.finalization, goal = var.slo.batch_goal, seconds = var.slo.batch_seconds }
  }

  slo_alerts = { for pair in setproduct(keys(local.slos), keys(local.slo_burn_policies)) : "${pair[0]}_${pair[1]}" => { slo = pair[0], burn = pair[1] } }
}

resource "google_monitoring_custom_service" "pipeline" {
  project      = var.project_id
  service_id   = "${var.name_prefix}-modal-completions"
  display_name = "${var.name_prefix}: Modal completions pipeline"
  user_labels  = local.labels

  depends_on = [time_sleep.apis_ready]
}

resource "google_monitoring_slo" "webhook_availability" {
  project             = var.project_id
  service             = google_monitoring_custom_service.pipeline.service_id
  slo_id              = "webhook-availability"
  display_name        = local.slo_display.webhook_availability
  goal                = var.slo.webhook_availability_goal
  rolling_period_days = var.slo.rolling_days
  user_labels         = local.labels

  request_based_sli {
    good_total_ratio {
      total_service_filter = "metric.type=\"run.googleapis.com/request_count\" resource.type=\"cloud_run_revision\" resource.label.\"service_name\"=\"${local.names.webhook}\""
      bad_service_filter   = "metric.type=\"run.googleapis.com/request_count\" resource.type=\"cloud_run_revision\" resource.label.\"service_name\"=\"${local.names.webhook}\" metric.label.\"response_code_class\"=\"5xx\""
    }
  }
}

resource "google_monitoring_slo" "latency" {
  for_each = local.latency_slos

  project             = var.project_id
  service             = google_monitoring_custom_service.pipeline.service_id
  slo_id              = each.value.id
  display_name        = local.slo_display[each.key]
  goal                = each.value.goal
  rolling_period_days = var.slo.rolling_days
  user_labels         = local.labels

  request_based_sli {
    distribution_cut {
      distribution_filter = "metric.type=\"${each.value.metric}\" resource.type=\"cloud_run_revision\""
      range {
        min = 0
        max = each.value.seconds * 1000
      }
    }
  }

  # A log-based metric can be unknown to Monitoring for minutes after it is created
  # (terraform-provider-google#11102): wait for the function builds, which take longer.
  depends_on = [time_sleep.log_metrics_ready, module.function]
}

# Multi-window burn-rate alerts: each fires only while both its long and its short window burn
# faster than the threshold, so it pages for a real burn and stops soon after the burn stops.
resource "google_monitoring_alert_policy" "slo_burn" {
  for_each = local.slo_alerts

  project               = var.project_id
  display_name          = "${var.name_prefix}: ${local.slos[each.value.slo].display} — ${each.value.burn} burn"
  combiner              = "AND"
  severity              = local.slo_burn_policies[each.value.burn].severity
  notification_channels = var.notification_channels
  user_labels           = merge(local.labels, { slo = each.value.slo, burn = each.value.burn })

  dynamic "conditions" {
    for_each = [local.slo_burn_policies[each.value.burn].long, local.slo_burn_policies[each.value.burn].short]
    content {
      display_name = "Burn rate over ${conditions.value} above ${local.slo_burn_policies[each.value.burn].burn}"
      condition_threshold {
        filter          = "select_slo_burn_rate(\"${local.slos[each.value.slo].slo}\", \"${conditions.value}\")"
        comparison      = "COMPARISON_GT"
        threshold_value = local.slo_burn_policies[each.value.burn].burn
        duration        = "0s"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "SLO \"${local.slos[each.value.slo].display}\" (goal ${local.slos[each.value.slo].goal} over ${var.slo.rolling_days} days) is burning its error budget: ${local.slo_burn_policies[each.value.burn].what}. Runbook: docs/runbook.md#${replace(each.value.slo, "_", "-")}."
  }
}

# The public health URL, checked from the locations of three regions (each region has several
# checker locations); an alert when more than one location sees it fail. Uptime checks are
# requests too: they count in the availability SLO's Cloud Run request counts.
resource "google_monitoring_uptime_check_config" "webhook_health" {
  project      = var.project_id
  display_name = "${var.name_prefix}: webhook health"
  timeout      = "10s"
  period       = "60s"
  user_labels  = local.labels

  http_check {
    path           = "/api/v3/webhooks/modal/health"
    port           = 443
    use_ssl        = true
    validate_ssl   = true
    request_method = "GET"
    accepted_response_status_codes {
      status_class = "STATUS_CLASS_2XX"
    }
  }
  content_matchers {
    content = "\"healthy\""
    matcher = "CONTAINS_STRING"
  }
  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = trimsuffix(trimprefix(module.webhook.uri, "https://"), "/")
    }
  }
  selected_regions = ["USA", "EUROPE", "ASIA_PACIFIC"]
}

resource "google_monitoring_alert_policy" "webhook_uptime" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: webhook health check failing"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "Health check failed from more than one checker location"
    condition_threshold {
      filter          = "resource.type=\"uptime_url\" AND metric.type=\"monitoring.googleapis.com/uptime_check/check_passed\" AND metric.label.\"check_id\"=\"${google_monitoring_uptime_check_config.webhook_health.uptime_check_id}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "120s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_NEXT_OLDER"
        cross_series_reducer = "REDUCE_COUNT_FALSE"
        group_by_fields      = ["resource.label.\"host\""]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The webhook's public health URL fails from more than one uptime-checker location: Modal cannot deliver completions (they will be retried, then polled by the reconciler). Runbook: docs/runbook.md#webhook-health-check."
  }
}

locals {
  slo_display = {
    webhook_availability = "Webhook availability: completions answered without 5xx"
    completion_freshness = "Completion freshness: applied within ${var.slo.freshness_seconds}s of receipt"
    batch_completion     = "Batch completion: finalised within ${var.slo.batch_seconds}s of its last job"
  }
}
