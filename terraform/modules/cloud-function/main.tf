# One Cloud Functions (2nd gen) function of this project: every function ships in the same archive
# and differs only by entry point, account, sizing, environment and ingress. A fix here lands in all.

resource "google_cloudfunctions2_function" "this" {
  project     = var.platform.project_id
  name        = var.function.name
  location    = var.platform.region
  description = var.function.description
  labels      = var.platform.labels

  build_config {
    runtime               = var.platform.runtime
    entry_point           = var.function.entry_point
    service_account       = var.platform.build.service_account
    environment_variables = var.platform.build.environment

    source {
      storage_source {
        bucket = var.platform.build.source_bucket
        object = var.platform.build.source_object
      }
    }
  }

  service_config {
    available_cpu                    = var.function.sizing.available_cpu
    available_memory                 = var.function.sizing.available_memory
    max_instance_request_concurrency = var.function.sizing.concurrency
    max_instance_count               = var.function.sizing.max_instances
    min_instance_count               = var.function.sizing.min_instances
    timeout_seconds                  = var.function.sizing.timeout_seconds
    ingress_settings                 = var.function.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = var.function.account_email
    environment_variables            = var.function.environment

    dynamic "secret_environment_variables" {
      for_each = var.function.secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.platform.project_id
        secret     = secret_environment_variables.value.secret
        version    = secret_environment_variables.value.version
      }
    }
  }
}
