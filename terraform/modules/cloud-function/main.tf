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
    available_cpu                    = var.function.sizing.cpu
    available_memory                 = "${var.function.sizing.memory_mib}Mi"
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

locals {
  # One grant per role and label: "roles/run.invoker push" → { role, member }. The labels, not the
  # members, are the keys: a service account's email is unknown until its account exists.
  iam = merge([
    for role, members in var.function.iam : { for label, member in members : "${role} ${label}" => { role = role, member = member } }
  ]...)
}

# Non-authoritative: each grant adds one member, and leaves any other binding on the service alone.
resource "google_cloud_run_service_iam_member" "iam" {
  for_each = local.iam

  project  = var.platform.project_id
  location = var.platform.region
  service  = google_cloudfunctions2_function.this.service_config[0].service
  role     = each.value.role
  member   = each.value.member
}
