# The four functions, one module call each (modules/cloud-function). They ship in the same archive;
# FUNCTION_TARGET (set by Cloud Functions from the entry point) selects which handler an instance
# builds and which configuration it parses.

locals {
  build = {
    service_account = google_service_account.build.id
    source_bucket   = google_storage_bucket.source.name
    source_object   = google_storage_bucket_object.source.name
    # Install production dependencies only; dist/ is already compiled in the bundle (whose only
    # script, gcp-build, is empty, so the build compiles nothing).
    environment = { NPM_CONFIG_OMIT = "dev" }
  }

  common_environment = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    RESULTS_BUCKET       = google_storage_bucket.results.name
  }

  # The secret version every function reads: pinned to a number, never "latest" (docs/deploy.md).
  secret_version = coalesce(var.webhook_secret.version, one(google_secret_manager_secret_version.initial[*].version))
  current_secret = { MODAL_WEBHOOK_SECRET = { secret = google_secret_manager_secret.webhook.secret_id, version = local.secret_version } }
  webhook_secrets = merge(local.current_secret, var.webhook_secret.previous_version == null ? {} : {
    MODAL_WEBHOOK_SECRET_PREVIOUS = { secret = google_secret_manager_secret.webhook.secret_id, version = var.webhook_secret.previous_version }
  })
}

# Grants take up to a few minutes to reach Cloud Build and Cloud Run: a function created right after
# them fails its first build ("Access to bucket denied") or start (secret permission denied).
resource "time_sleep" "iam_propagation" {
  create_duration = "60s"

  triggers = {
    build        = google_project_iam_member.build.id
    build_source = google_storage_bucket_iam_member.build_reads_source.id
    webhook      = google_secret_manager_secret_iam_member.webhook_secret_accessor.id
    admin        = google_secret_manager_secret_iam_member.admin_secret_accessor.id
    reconciler   = google_secret_manager_secret_iam_member.reconciler_secret_accessor.id
    firestore    = join(",", [google_project_iam_member.worker_firestore.id, google_project_iam_member.admin_firestore.id, google_project_iam_member.reconciler_firestore.id])
    deployer     = join(",", [for m in google_service_account_iam_member.deployer_acts_as : m.id])
  }
}

module "webhook" {
  source = "./modules/cloud-function"

  project_id            = var.project_id
  region                = var.region
  name                  = local.names.webhook
  description           = "Verifies signed Modal completion webhooks and publishes them to Pub/Sub."
  labels                = local.labels
  entry_point           = "modalWebhook"
  build                 = local.build
  service_account_email = google_service_account.webhook.email
  # Public: Modal calls it from the internet; every request is authenticated by its HMAC signature.
  ingress = "ALLOW_ALL"
  sizing = {
    cpu             = var.webhook.available_cpu
    memory          = var.webhook.available_memory
    concurrency     = var.webhook.concurrency
    min_instances   = var.webhook.min_instances
    max_instances   = var.webhook.max_instances
    timeout_seconds = var.webhook.timeout_seconds
  }
  environment = merge(local.common_environment, {
    COMPLETIONS_TOPIC           = google_pubsub_topic.completions.name
    CLAIM_CHECK_THRESHOLD_BYTES = tostring(floor(var.webhook.claim_threshold_mb * 1024 * 1024))
    WEBHOOK_TOLERANCE_SECONDS   = "300"
    PUBLISH_TIMEOUT_MS          = tostring(var.webhook.publish_timeout_seconds * 1000)
    SIGNATURE_SCHEMES           = join(",", var.webhook.signature_schemes)
  })
  secrets = local.webhook_secrets

  depends_on = [time_sleep.iam_propagation, google_secret_manager_secret_version.initial]
}

module "worker" {
  source = "./modules/cloud-function"

  project_id            = var.project_id
  region                = var.region
  name                  = local.names.worker
  description           = "Applies Modal completions: Firestore jobs, Cloud Storage results, batch completion."
  labels                = local.labels
  entry_point           = "processCompletion"
  build                 = local.build
  service_account_email = google_service_account.worker.email
  # Only the Pub/Sub push subscription calls it (push counts as internal traffic).
  ingress = "ALLOW_INTERNAL_ONLY"
  sizing = {
    cpu             = var.worker.available_cpu
    memory          = var.worker.available_memory
    concurrency     = var.worker.concurrency
    min_instances   = var.worker.min_instances
    max_instances   = var.worker.max_instances
    timeout_seconds = var.worker.timeout_seconds
  }
  environment = merge(local.common_environment, {
    BATCH_EVENTS_TOPIC   = google_pubsub_topic.batch_events.name
    AFFINITY_DIRECTION   = var.affinity_direction
    RANKING_SIZE         = tostring(var.worker.ranking_size)
    BATCH_COUNTER_SHARDS = tostring(var.worker.counter_shards)
    FIRESTORE_DATABASE   = "(default)"
  })

  depends_on = [time_sleep.iam_propagation, google_firestore_database.default]
}

module "admin" {
  source = "./modules/cloud-function"

  project_id            = var.project_id
  region                = var.region
  name                  = local.names.admin
  description           = "Admin API: status, metrics, active executions, cancel, registration, test delivery."
  labels                = local.labels
  entry_point           = "webhookAdmin"
  build                 = local.build
  service_account_email = google_service_account.admin.email
  # Reachable, but private: Cloud Run lets only admin.invokers call it (iam.tf).
  ingress = "ALLOW_ALL"
  sizing = {
    cpu             = "1"
    memory          = "512Mi"
    concurrency     = 20
    min_instances   = 0
    max_instances   = var.admin.max_instances
    timeout_seconds = 120
  }
  environment = merge(
    local.common_environment,
    {
      COMPLETIONS_TOPIC = google_pubsub_topic.completions.name
      WEBHOOK_URL       = "${module.webhook.uri}/api/v3/webhooks/modal/completion"
      MODAL_APPS        = join(",", var.admin.modal_apps)
      SIGNATURE_SCHEMES = join(",", var.webhook.signature_schemes)
      # What the configure step's modal commands run to read the secret (never its value).
      SECRET_READ_COMMAND = "gcloud secrets versions access ${local.secret_version} --secret=${google_secret_manager_secret.webhook.secret_id} --project=${var.project_id}"
    },
    var.admin.modal_control_url == null ? {} : { MODAL_CONTROL_URL = var.admin.modal_control_url },
  )
  secrets = local.current_secret

  depends_on = [time_sleep.iam_propagation, google_secret_manager_secret_version.initial, google_firestore_database.default]
}

module "reconciler" {
  source = "./modules/cloud-function"

  project_id            = var.project_id
  region                = var.region
  name                  = local.names.reconciler
  description           = "Finds executions without a completion; polls Modal or marks them stale by COMPLETION_MODE."
  labels                = local.labels
  entry_point           = "reconcileExecutions"
  build                 = local.build
  service_account_email = google_service_account.reconciler.email
  # Only the scheduler's ticks, pushed by Pub/Sub, call it.
  ingress = "ALLOW_INTERNAL_ONLY"
  sizing = {
    cpu             = "0.583"
    memory          = "512Mi"
    concurrency     = 1
    min_instances   = 0
    max_instances   = 1
    timeout_seconds = 300
  }
  environment = merge(
    local.common_environment,
    {
      COMPLETIONS_TOPIC   = google_pubsub_topic.completions.name
      COMPLETION_MODE     = var.reconciler.completion_mode
      STALE_AFTER_SECONDS = tostring(var.reconciler.stale_after_seconds)
    },
    var.reconciler.modal_status_url == null ? {} : { MODAL_STATUS_URL = var.reconciler.modal_status_url },
  )
  secrets = local.current_secret

  depends_on = [time_sleep.iam_propagation, google_secret_manager_secret_version.initial, google_firestore_database.default]
}
