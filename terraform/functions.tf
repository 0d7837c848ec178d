# The four functions, all from one module (modules/cloud-function). They ship in the same archive;
# FUNCTION_TARGET (set by Cloud Functions from the entry point) selects which handler an instance
# builds and which configuration it parses. The public webhook is its own module call because the
# admin API's configuration holds the webhook's URL; the three private functions are one call over
# local.private_functions.

locals {
  platform = {
    project_id = var.project_id
    region     = var.region
    labels     = local.labels
    # The Node.js the code is built and tested on (package.json engines, Cloud Build's node image).
    runtime = "nodejs24"
    build = {
      service_account = google_service_account.role["build"].id
      source_bucket   = google_storage_bucket.bucket["source"].name
      source_object   = google_storage_bucket_object.source.name
      # Install production dependencies only; dist/ is already compiled in the bundle (whose only
      # script, gcp-build, is empty, so the build compiles nothing).
      environment = { NPM_CONFIG_OMIT = "dev" }
    }
  }

  common_environment = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    RESULTS_BUCKET       = google_storage_bucket.bucket["results"].name
  }

  # The secret version every function reads: pinned to a number, never "latest" (docs/deploy.md).
  secret_version = coalesce(var.webhook_secret.version, one(google_secret_manager_secret_version.initial[*].version))
  current_secret = { MODAL_WEBHOOK_SECRET = { secret = google_secret_manager_secret.webhook.secret_id, version = local.secret_version } }
  webhook_secrets = merge(local.current_secret, var.webhook_secret.previous_version == null ? {} : {
    MODAL_WEBHOOK_SECRET_PREVIOUS = { secret = google_secret_manager_secret.webhook.secret_id, version = var.webhook_secret.previous_version }
  })

  webhook_function = {
    name        = local.names.webhook
    description = "Verifies signed Modal completion webhooks and publishes them to Pub/Sub."
    entry_point = "modalWebhook"
    # Public: Modal calls it from the internet; every request is authenticated by its HMAC signature.
    ingress = "ALLOW_ALL"
    sizing = {
      cpu             = var.webhook.cpu
      memory_mib      = var.webhook.memory_mib
      concurrency     = var.webhook.concurrency
      min_instances   = var.webhook.min_instances
      max_instances   = var.webhook.max_instances
      timeout_seconds = var.webhook.timeout_seconds
    }
    # The only public grant of the deployment.
    iam = { "roles/run.invoker" = { public = "allUsers" } }
    environment = merge(local.common_environment, {
      COMPLETIONS_TOPIC           = google_pubsub_topic.topic["completions"].name
      CLAIM_CHECK_THRESHOLD_BYTES = tostring(floor(var.webhook.claim_threshold_mb * 1024 * 1024))
      WEBHOOK_TOLERANCE_SECONDS   = "300"
      PUBLISH_TIMEOUT_MS          = tostring(var.webhook.publish_timeout_seconds * 1000)
      SIGNATURE_SCHEMES           = join(",", var.webhook.signature_schemes)
    })
    secrets = local.webhook_secrets
  }

  private_functions = {
    worker = {
      name        = local.names.worker
      description = "Applies Modal completions: Firestore jobs, Cloud Storage results, batch completion."
      entry_point = "processCompletion"
      # Only the Pub/Sub push subscription calls it (push counts as internal traffic), as the push identity.
      ingress = "ALLOW_INTERNAL_ONLY"
      sizing = {
        cpu             = var.worker.cpu
        memory_mib      = var.worker.memory_mib
        concurrency     = var.worker.concurrency
        min_instances   = var.worker.min_instances
        max_instances   = var.worker.max_instances
        timeout_seconds = var.worker.timeout_seconds
      }
      iam = { "roles/run.invoker" = { push = local.member.push_invoker } }
      environment = merge(local.common_environment, {
        BATCH_EVENTS_TOPIC   = google_pubsub_topic.topic["batch_events"].name
        AFFINITY_DIRECTION   = var.affinity_direction
        RANKING_SIZE         = tostring(var.worker.ranking_size)
        BATCH_COUNTER_SHARDS = tostring(var.worker.counter_shards)
        FIRESTORE_DATABASE   = "(default)"
      })
      secrets = {}
    }
    admin = {
      name        = local.names.admin
      description = "Admin API and operator page: status, metrics, batches, dead letters, cancel, registration, test delivery."
      entry_point = "webhookAdmin"
      # Reachable, but private: Cloud Run lets only admin.invokers call it (iam.tf: keyed by member,
      # which only the var file knows, so they stay outside the module's static grants).
      ingress = "ALLOW_ALL"
      sizing  = { concurrency = 20, max_instances = var.admin.max_instances, timeout_seconds = 120 }
      environment = merge(
        local.common_environment,
        {
          COMPLETIONS_TOPIC = google_pubsub_topic.topic["completions"].name
          WEBHOOK_URL       = "${module.webhook.uri}/api/v3/webhooks/modal/completion"
          MODAL_APPS        = join(",", var.admin.modal_apps)
          SIGNATURE_SCHEMES = join(",", var.webhook.signature_schemes)
          # What the configure step's modal commands run to read the secret (never its value).
          SECRET_READ_COMMAND = "gcloud secrets versions access ${local.secret_version} --secret=${google_secret_manager_secret.webhook.secret_id} --project=${var.project_id}"
          # The operator page's origin behind `gcloud run services proxy --port 8080` (docs/operations.md).
          ADMIN_ALLOWED_ORIGINS = join(",", var.admin.allowed_origins)
          # What the overview judges health by: the SLOs' own objectives, the reconciler alert's silence.
          SLO_AVAILABILITY_GOAL    = tostring(var.slo.webhook_availability_goal)
          SLO_FRESHNESS_GOAL       = tostring(var.slo.freshness_goal)
          SLO_FRESHNESS_SECONDS    = tostring(var.slo.freshness_seconds)
          RECONCILER_QUIET_SECONDS = tostring(var.alerts.reconciler_silence_seconds)
        },
        var.admin.modal_control_url == null ? {} : { MODAL_CONTROL_URL = var.admin.modal_control_url },
      )
      secrets = local.current_secret
    }
    reconciler = {
      name        = local.names.reconciler
      description = "Finds executions without a completion; polls Modal or marks them stale by COMPLETION_MODE."
      entry_point = "reconcileExecutions"
      # Only the scheduler's ticks, pushed by Pub/Sub as the push identity, call it.
      ingress = "ALLOW_INTERNAL_ONLY"
      sizing  = { cpu = "0.583", concurrency = 1, max_instances = 1, timeout_seconds = 300 }
      iam     = { "roles/run.invoker" = { push = local.member.push_invoker } }
      environment = merge(
        local.common_environment,
        {
          COMPLETIONS_TOPIC   = google_pubsub_topic.topic["completions"].name
          COMPLETION_MODE     = var.reconciler.completion_mode
          STALE_AFTER_SECONDS = tostring(var.reconciler.stale_after_seconds)
        },
        var.reconciler.modal_status_url == null ? {} : { MODAL_STATUS_URL = var.reconciler.modal_status_url },
      )
      secrets = local.current_secret
    }
  }
}

# Grants take up to a few minutes to reach Cloud Build and Cloud Run: a function created right after
# them fails its first build ("Access to bucket denied") or start (secret permission denied).
resource "time_sleep" "iam_propagation" {
  create_duration = "60s"

  triggers = {
    grants = join(",", concat(
      [for g in google_project_iam_member.grant : g.id],
      [for g in google_storage_bucket_iam_member.grant : g.id],
      [for g in google_secret_manager_secret_iam_member.accessor : g.id],
      [for g in google_service_account_iam_member.deployer_acts_as : g.id],
    ))
  }
}

module "webhook" {
  source   = "./modules/cloud-function"
  platform = local.platform
  function = merge(local.webhook_function, { account_email = google_service_account.role["webhook"].email })

  depends_on = [time_sleep.iam_propagation, google_secret_manager_secret_version.initial]
}

# The worker, the admin API and the reconciler: Firestore must exist before they start.
module "function" {
  for_each = local.private_functions

  source   = "./modules/cloud-function"
  platform = local.platform
  function = merge(each.value, { account_email = google_service_account.role[each.key].email })

  depends_on = [time_sleep.iam_propagation, google_secret_manager_secret_version.initial, google_firestore_database.default]
}
