# The operator's side: the private admin API, and the reconciler that Cloud Scheduler runs through
# Pub/Sub (the migration from polling), with the Firestore indexes their queries need.

resource "google_cloudfunctions2_function" "admin" {
  project     = var.project_id
  name        = local.names.admin
  location    = var.region
  description = "Admin API: status, metrics, active executions, cancel, registration, test delivery."
  labels      = local.labels

  build_config {
    runtime               = "nodejs22"
    entry_point           = "webhookAdmin"
    service_account       = google_service_account.build.id
    environment_variables = local.build_environment

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = "512Mi"
    max_instance_request_concurrency = 20
    max_instance_count               = var.admin.max_instances
    min_instance_count               = 0
    timeout_seconds                  = 120
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.admin.email

    environment_variables = merge(
      local.common_environment,
      {
        COMPLETIONS_TOPIC = google_pubsub_topic.completions.name
        WEBHOOK_URL       = "${google_cloudfunctions2_function.webhook.service_config[0].uri}/api/v3/webhooks/modal/completion"
        MODAL_APPS        = join(",", var.admin.modal_apps)
      },
      var.admin.modal_control_url == null ? {} : { MODAL_CONTROL_URL = var.admin.modal_control_url },
    )

    secret_environment_variables {
      key        = "MODAL_WEBHOOK_SECRET"
      project_id = var.project_id
      secret     = google_secret_manager_secret.webhook.secret_id
      version    = var.webhook_secret.version
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.admin_secret_accessor,
    google_secret_manager_secret_version.initial,
    google_project_iam_member.build,
  ]
}

resource "google_pubsub_topic" "reconcile_ticks" {
  project    = var.project_id
  name       = local.names.reconcile_ticks
  labels     = local.labels
  depends_on = [google_project_service.apis]
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

  depends_on = [google_project_service.apis]
}

resource "google_cloudfunctions2_function" "reconciler" {
  project     = var.project_id
  name        = local.names.reconciler
  location    = var.region
  description = "Finds executions without a completion; polls Modal or marks them stale by COMPLETION_MODE."
  labels      = local.labels

  build_config {
    runtime               = "nodejs22"
    entry_point           = "reconcileExecutions"
    service_account       = google_service_account.build.id
    environment_variables = local.build_environment

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory               = "512Mi"
    max_instance_count             = 1
    min_instance_count             = 0
    timeout_seconds                = 300
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.reconciler.email

    environment_variables = merge(
      local.common_environment,
      {
        COMPLETIONS_TOPIC   = google_pubsub_topic.completions.name
        COMPLETION_MODE     = var.reconciler.completion_mode
        STALE_AFTER_SECONDS = tostring(var.reconciler.stale_after_seconds)
      },
      var.reconciler.modal_status_url == null ? {} : { MODAL_STATUS_URL = var.reconciler.modal_status_url },
    )

    secret_environment_variables {
      key        = "MODAL_WEBHOOK_SECRET"
      project_id = var.project_id
      secret     = google_secret_manager_secret.webhook.secret_id
      version    = var.webhook_secret.version
    }
  }

  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic          = google_pubsub_topic.reconcile_ticks.id
    retry_policy          = "RETRY_POLICY_DO_NOT_RETRY"
    service_account_email = google_service_account.push_invoker.email
  }

  depends_on = [
    google_secret_manager_secret_iam_member.reconciler_secret_accessor,
    google_secret_manager_secret_version.initial,
    google_project_iam_member.build,
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

  depends_on = [google_project_service.apis, google_firestore_database.default]
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

  depends_on = [google_project_service.apis, google_firestore_database.default]
}
