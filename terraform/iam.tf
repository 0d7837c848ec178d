# Least privilege. Only the webhook is public (it is protected by HMAC; its grant is in functions.tf);
# everything else is granted on the single resource it concerns. Project-wide grants: Firestore access for the worker, the admin
# API and the reconciler (Firestore has no per-collection IAM) and the build role for the build
# account. One table per kind of resource granted on; a key names the grant, and each grant is one
# instance of the resource below its table.

locals {
  project_grants = {
    worker_firestore     = { role = "roles/datastore.user", member = local.member.worker }
    admin_firestore      = { role = "roles/datastore.user", member = local.member.admin }
    reconciler_firestore = { role = "roles/datastore.user", member = local.member.reconciler }
    # What Cloud Functions' build needs: logs, Artifact Registry.
    build = { role = "roles/cloudbuild.builds.builder", member = local.member.build }
  }

  # The webhook verifies with the secret; the admin API and the reconciler sign with it (test
  # deliveries, cancel and status requests).
  secret_accessors = {
    webhook_secret_accessor    = local.member.webhook
    admin_secret_accessor      = local.member.admin
    reconciler_secret_accessor = local.member.reconciler
  }

  topic_grants = {
    webhook_publishes_completions    = { topic = google_pubsub_topic.topic["completions"].name, role = "roles/pubsub.publisher", member = local.member.webhook }
    admin_publishes_completions      = { topic = google_pubsub_topic.topic["completions"].name, role = "roles/pubsub.publisher", member = local.member.admin }
    reconciler_publishes_completions = { topic = google_pubsub_topic.topic["completions"].name, role = "roles/pubsub.publisher", member = local.member.reconciler }
    # The admin API's status sees that the completions topic exists.
    admin_views_completions       = { topic = google_pubsub_topic.topic["completions"].name, role = "roles/pubsub.viewer", member = local.member.admin }
    worker_publishes_batch_events = { topic = google_pubsub_topic.topic["batch_events"].name, role = "roles/pubsub.publisher", member = local.member.worker }
    # The Pub/Sub service agent moves failed messages to the dead-letter topic.
    pubsub_agent_publishes_dead_letters = { topic = google_pubsub_topic.topic["completions_dead_letter"].name, role = "roles/pubsub.publisher", member = local.pubsub_service_agent }
  }

  bucket_grants = {
    webhook_creates_claims = { bucket = google_storage_bucket.bucket["results"].name, role = "roles/storage.objectCreator", member = local.member.webhook }
    worker_creates_results = { bucket = google_storage_bucket.bucket["results"].name, role = "roles/storage.objectCreator", member = local.member.worker }
    worker_reads_results   = { bucket = google_storage_bucket.bucket["results"].name, role = "roles/storage.objectViewer", member = local.member.worker }
    build_reads_source     = { bucket = google_storage_bucket.bucket["source"].name, role = "roles/storage.objectViewer", member = local.member.build }
  }

  # Derived from the project, so that an apply by hand and one by Cloud Build grant the same.
  deployer_member = var.deployer_account_id == null ? null : "serviceAccount:${var.deployer_account_id}@${var.project_id}.iam.gserviceaccount.com"
}

resource "google_project_iam_member" "grant" {
  for_each = local.project_grants

  project = var.project_id
  role    = each.value.role
  member  = each.value.member
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_accessors

  project   = var.project_id
  secret_id = google_secret_manager_secret.webhook.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}

resource "google_pubsub_topic_iam_member" "grant" {
  for_each = local.topic_grants

  project = var.project_id
  topic   = each.value.topic
  role    = each.value.role
  member  = each.value.member
}

resource "google_storage_bucket_iam_member" "grant" {
  for_each = local.bucket_grants

  bucket = each.value.bucket
  role   = each.value.role
  member = each.value.member
}

# run.invoker on the functions' Cloud Run services is each function's own `iam` (functions.tf): the
# webhook's allUsers, the push identity on the worker and the reconciler. The admin API is private:
# only the named invokers (never public: variables.tf), and the Cloud Build deploy identity, which
# calls it once per deploy for the smoke test's signed test delivery (cloudbuild.yaml, smoke-test).
# These stay here, keyed by member (the deploy identity by "deployer"): a moved block cannot name
# keys that only a var file knows, and a binding destroyed at one address while created at another
# can end up removed.
resource "google_cloud_run_service_iam_member" "admin_invokers" {
  for_each = merge({ for m in var.admin.invokers : m => m }, var.deployer_account_id == null ? {} : { deployer = local.deployer_member })

  project  = var.project_id
  location = var.region
  service  = module.function["admin"].service
  role     = "roles/run.invoker"
  member   = each.value
}

# The operator page is opened through `gcloud run services proxy <admin service>`, which looks the
# service up by name before it proxies (run.services.get): run.viewer on the admin service alone,
# for the invokers who are people (the deploy identity calls the URL directly).
resource "google_cloud_run_service_iam_member" "admin_viewers" {
  for_each = { for m in var.admin.invokers : m => m }

  project  = var.project_id
  location = var.region
  service  = module.function["admin"].service
  role     = "roles/run.viewer"
  member   = each.value
}

# The Pub/Sub service agent mints the push identity's OIDC tokens, and takes failed messages off the
# worker's subscription to dead-letter them.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.role["push_invoker"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_subscribes_worker_push" {
  project      = var.project_id
  subscription = google_pubsub_subscription.push["worker"].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# The deploy identity acts as the accounts it hands to functions, builds and push subscriptions,
# and as no other: the bootstrap gives it no project-wide iam.serviceAccountUser.
resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each = { for role, account in google_service_account.role : role => account.name if var.deployer_account_id != null }

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = local.deployer_member
}
