# The operator's side: the reconciler's schedule (the migration from polling). Cloud Scheduler
# publishes a tick to its topic; the reconciler's push subscription (pubsub.tf) delivers it. The
# function itself is in functions.tf, the indexes its scan needs in firestore.tf.

locals {
  reconcile_tick_retention_seconds = var.alerts.reconcile_tick_age_seconds + 900
}

resource "google_cloud_scheduler_job" "reconcile" {
  project     = var.project_id
  region      = var.region
  name        = local.names.reconciler
  description = "Runs the reconciler (COMPLETION_MODE ${var.reconciler.completion_mode})."
  schedule    = var.reconciler.schedule
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.topic["reconcile_ticks"].id
    data       = base64encode("{\"tick\":true}")
  }

  depends_on = [time_sleep.apis_ready]
}
