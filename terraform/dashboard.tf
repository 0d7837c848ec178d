# One dashboard for the console: the SLOs (budget left, burn rate) first, then webhooks, rejections,
# latency, backlogs, dead letters and the reconciler.

locals {
  dashboard_tiles = [
    {
      title  = "Webhooks accepted / s"
      filter = "metric.type=\"${local.metric_types.accepted}\" resource.type=\"cloud_run_revision\""
      align  = "ALIGN_RATE"
      reduce = "REDUCE_SUM"
      group  = []
    },
    {
      title  = "Webhook responses / s by code class"
      filter = "metric.type=\"run.googleapis.com/request_count\" resource.type=\"cloud_run_revision\" resource.label.\"service_name\"=\"${local.names.webhook}\""
      align  = "ALIGN_RATE"
      reduce = "REDUCE_SUM"
      group  = ["metric.label.\"response_code_class\""]
    },
    {
      title  = "Signature rejections by reason"
      filter = "metric.type=\"${local.metric_types.rejections}\" resource.type=\"cloud_run_revision\""
      align  = "ALIGN_DELTA"
      reduce = "REDUCE_SUM"
      group  = ["metric.label.\"reason\""]
    },
    {
      title  = "Completions by job status"
      filter = "metric.type=\"${local.metric_types.completion}\" resource.type=\"cloud_run_revision\""
      align  = "ALIGN_DELTA"
      reduce = "REDUCE_SUM"
      group  = ["metric.label.\"status\""]
    },
    {
      title  = "Processing latency p50 (ms)"
      filter = "metric.type=\"${local.metric_types.latency}\" resource.type=\"cloud_run_revision\""
      align  = "ALIGN_PERCENTILE_50"
      reduce = "REDUCE_MAX"
      group  = []
    },
    {
      title  = "Processing latency p99 (ms)"
      filter = "metric.type=\"${local.metric_types.latency}\" resource.type=\"cloud_run_revision\""
      align  = "ALIGN_PERCENTILE_99"
      reduce = "REDUCE_MAX"
      group  = []
    },
    {
      title  = "Completions backlog (undelivered)"
      filter = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" resource.type=\"pubsub_subscription\" resource.label.\"subscription_id\"=\"${google_pubsub_subscription.push["worker"].name}\""
      align  = "ALIGN_MAX"
      reduce = "REDUCE_MAX"
      group  = []
    },
    {
      title  = "Oldest unacked completion (s)"
      filter = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" resource.type=\"pubsub_subscription\" resource.label.\"subscription_id\"=\"${google_pubsub_subscription.push["worker"].name}\""
      align  = "ALIGN_MAX"
      reduce = "REDUCE_MAX"
      group  = []
    },
    {
      title  = "Dead letters (topic backlog and poison messages)"
      filter = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" resource.type=\"pubsub_subscription\" resource.label.\"subscription_id\"=\"${google_pubsub_subscription.push["dead_letters"].name}\""
      align  = "ALIGN_MAX"
      reduce = "REDUCE_MAX"
      group  = []
    },
    {
      title  = "Reconciler: executions marked stale (missing webhooks)"
      filter = "metric.type=\"${local.metric_types.stale}\" resource.type=\"cloud_run_revision\""
      align  = "ALIGN_DELTA"
      reduce = "REDUCE_SUM"
      group  = []
    },
    {
      title  = "Worker errors"
      filter = "metric.type=\"${local.metric_types.errors}\" resource.type=\"cloud_run_revision\""
      align  = "ALIGN_DELTA"
      reduce = "REDUCE_SUM"
      group  = []
    },
  ]
}

locals {
  # Per SLO: the share of its error budget left, and its burn rate over the last hour.
  slo_tiles = flatten([for key, slo in local.slos : [
    { title = "${slo.display}: error budget left", filter = "select_slo_budget_fraction(\"${slo.slo}\")" },
    { title = "${slo.display}: burn rate (1 h)", filter = "select_slo_burn_rate(\"${slo.slo}\", \"3600s\")" },
  ]])
  all_tiles = concat(
    [for t in local.slo_tiles : { title = t.title, query = { timeSeriesFilter = { filter = t.filter } } }],
    [for t in local.dashboard_tiles : {
      title = t.title
      query = {
        timeSeriesFilter = {
          filter = t.filter
          aggregation = merge({
            alignmentPeriod    = "60s"
            perSeriesAligner   = t.align
            crossSeriesReducer = t.reduce
          }, length(t.group) == 0 ? {} : { groupByFields = t.group })
        }
      }
    }],
  )
}

resource "google_monitoring_dashboard" "pipeline" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "${var.name_prefix}: Modal completions pipeline"
    mosaicLayout = {
      columns = 12
      tiles = [
        # The API drops zero positions and empty lists, which would show as a change on every plan:
        # leave them out.
        for i, tile in local.all_tiles : merge(i % 2 == 0 ? {} : { xPos = 6 }, i < 2 ? {} : { yPos = floor(i / 2) * 4 }, {
          width                                                         = 6
          height                                                        = 4
          widget = {
            title   = tile.title
            xyChart = { dataSets = [{ plotType = "LINE", timeSeriesQuery = tile.query }] }
          }
        })
      ]
    }
  })
}
