# One Cloud Functions (2nd gen) function of this project: every function ships in the same archive
# and differs only by entry point, account, sizing, environment and ingress. A fix here lands in all.

resource "google_cloudfunctions2_function" "this" {
  project     = var.project_id
  name        = var.name
  location    = var.region
  description = var.description
  labels      = var.labels

  build_config {
    runtime               = "nodejs22"
    entry_point           = var.entry_point
    service_account       = var.build.service_account
    environment_variables = var.build.environment

    source {
      storage_source {
        bucket = var.build.source_bucket
        object = var.build.source_object
      }
    }
  }

  service_config {
    available_cpu                    = var.sizing.cpu
    available_memory                 = var.sizing.memory
    max_instance_request_concurrency = var.sizing.concurrency
    max_instance_count               = var.sizing.max_instances
    min_instance_count               = var.sizing.min_instances
    timeout_seconds                  = var.sizing.timeout_seconds
    ingress_settings                 = var.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = var.service_account_email
    environment_variables            = var.environment

    dynamic "secret_environment_variables" {
      for_each = var.secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value.secret
        version    = secret_environment_variables.value.version
      }
    }
  }
}
