# Both functions are built from the same archive; FUNCTION_TARGET (set by Cloud Functions from the
# entry point) selects which handler an instance builds and which configuration it parses.

locals {
  build_environment = {
    # Install production dependencies only; dist/ is already compiled in the bundle (whose only
    # script, gcp-build, is empty, so the build compiles nothing).
    NPM_CONFIG_OMIT = "dev"
  }

  common_environment = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    RESULTS_BUCKET       = google_storage_bucket.results.name
  }
}

resource "google_cloudfunctions2_function" "webhook" {
  project     = var.project_id
  name        = local.names.webhook
  location    = var.region
  description = "Verifies signed Modal completion webhooks and publishes them to Pub/Sub."
  labels      = local.labels

  build_config {
    runtime               = "nodejs22"
    entry_point           = "modalWebhook"
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
    available_cpu                    = var.webhook.available_cpu
    available_memory                 = var.webhook.available_memory
    max_instance_request_concurrency = var.webhook.concurrency
    max_instance_count               = var.webhook.max_instances
    min_instance_count               = var.webhook.min_instances
    timeout_seconds                  = var.webhook.timeout_seconds
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.webhook.email

    environment_variables = merge(local.common_environment, {
      COMPLETIONS_TOPIC           = google_pubsub_topic.completions.name
      CLAIM_CHECK_THRESHOLD_BYTES = tostring(floor(var.webhook.claim_threshold_mb * 1024 * 1024))
      WEBHOOK_TOLERANCE_SECONDS   = "300"
    })

    secret_environment_variables {
      key        = "MODAL_WEBHOOK_SECRET"
      project_id = var.project_id
      secret     = google_secret_manager_secret.webhook.secret_id
      version    = var.webhook_secret.version
    }

    dynamic "secret_environment_variables" {
      for_each = var.webhook_secret.previous_version == null ? [] : [var.webhook_secret.previous_version]
      content {
        key        = "MODAL_WEBHOOK_SECRET_PREVIOUS"
        project_id = var.project_id
        secret     = google_secret_manager_secret.webhook.secret_id
        version    = secret_environment_variables.value
      }
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.webhook_secret_accessor,
    google_secret_manager_secret_version.initial,
    google_project_iam_member.build,
  ]
}

resource "google_cloudfunctions2_function" "worker" {
  project     = var.project_id
  name        = local.names.worker
  location    = var.region
  description = "Applies Modal completions: Firestore jobs, Cloud Storage results, batch completion."
  labels      = local.labels

  build_config {
    runtime               = "nodejs22"
    entry_point           = "processCompletion"
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
    available_cpu                    = var.worker.available_cpu
    available_memory                 = var.worker.available_memory
    max_instance_request_concurrency = var.worker.concurrency
    max_instance_count               = var.worker.max_instances
    min_instance_count               = var.worker.min_instances
    timeout_seconds                  = var.worker.timeout_seconds
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.worker.email

    environment_variables = merge(local.common_environment, {
      BATCH_EVENTS_TOPIC = google_pubsub_topic.batch_events.name
      AFFINITY_DIRECTION = var.affinity_direction
      RANKING_SIZE       = tostring(var.worker.ranking_size)
      FIRESTORE_DATABASE = "(default)"
    })
  }

  depends_on = [
    google_project_iam_member.build,
    google_firestore_database.default,
  ]
}
