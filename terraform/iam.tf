# Least privilege. Only the webhook is public (it is protected by HMAC); everything else is granted
# on the single resource it concerns. Project-wide grants: Firestore access for the worker (Firestore
# has no per-collection IAM) and the build role for the build account.

# --- webhook: public invoker, publish completions, read its secret, create claim-check objects
resource "google_cloud_run_service_iam_member" "webhook_public" {
  project  = var.project_id
  location = var.region
  service  = module.webhook.service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_pubsub_topic_iam_member" "webhook_publishes_completions" {
  project = var.project_id
  topic   = google_pubsub_topic.completions.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.webhook.member
}

resource "google_secret_manager_secret_iam_member" "webhook_secret_accessor" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.webhook.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.webhook.member
}

resource "google_storage_bucket_iam_member" "webhook_creates_claims" {
  bucket = google_storage_bucket.results.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.webhook.member
}

# --- worker: Firestore, read and create result objects, publish batch events
resource "google_project_iam_member" "worker_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.worker.member
}

resource "google_storage_bucket_iam_member" "worker_creates_results" {
  bucket = google_storage_bucket.results.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.worker.member
}

resource "google_storage_bucket_iam_member" "worker_reads_results" {
  bucket = google_storage_bucket.results.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.worker.member
}

resource "google_pubsub_topic_iam_member" "worker_publishes_batch_events" {
  project = var.project_id
  topic   = google_pubsub_topic.batch_events.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.worker.member
}

# --- push invoker: may invoke the (private) worker, nothing else
resource "google_cloud_run_service_iam_member" "worker_push_invoker" {
  project  = var.project_id
  location = var.region
  service  = module.worker.service
  role     = "roles/run.invoker"
  member   = google_service_account.push_invoker.member
}

# --- Pub/Sub service agent: mint the push identity's OIDC tokens, and move failed messages to the
# dead-letter topic (publisher there, subscriber on the source subscription).
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.push_invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

resource "google_pubsub_topic_iam_member" "pubsub_agent_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.completions_dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_subscribes_worker_push" {
  project      = var.project_id
  subscription = google_pubsub_subscription.worker_push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# --- build: what Cloud Functions' build needs (logs, Artifact Registry, reading the source object)
resource "google_project_iam_member" "build" {
  project = var.project_id
  role    = "roles/cloudbuild.builds.builder"
  member  = google_service_account.build.member
}

resource "google_storage_bucket_iam_member" "build_reads_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

# --- admin: private (named invokers only), Firestore, its secret (signs test deliveries and cancel
# requests), publish batch checks, and see that the completions topic exists
# The Cloud Build deploy identity calls the admin API once per deploy, for the smoke test's signed
# test delivery (cloudbuild.yaml, smoke-test). Derived from the project, so that an apply by hand
# and one by Cloud Build grant the same.
resource "google_cloud_run_service_iam_member" "admin_deployer" {
  count = var.deployer_account_id == null ? 0 : 1

  project  = var.project_id
  location = var.region
  service  = module.admin.service
  role     = "roles/run.invoker"
  member   = local.deployer_member
}

# --- the deploy identity acts as the accounts it hands to functions, builds and push subscriptions,
# and as no other: the bootstrap gives it no project-wide iam.serviceAccountUser.
locals {
  deployer_member = var.deployer_account_id == null ? null : "serviceAccount:${var.deployer_account_id}@${var.project_id}.iam.gserviceaccount.com"
  runtime_accounts = {
    webhook      = google_service_account.webhook.name
    worker       = google_service_account.worker.name
    push_invoker = google_service_account.push_invoker.name
    build        = google_service_account.build.name
    admin        = google_service_account.admin.name
    reconciler   = google_service_account.reconciler.name
  }
}

resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each = { for k, v in local.runtime_accounts : k => v if var.deployer_account_id != null }

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = local.deployer_member
}

resource "google_cloud_run_service_iam_member" "admin_invokers" {
  for_each = toset(var.admin.invokers)

  project  = var.project_id
  location = var.region
  service  = module.admin.service
  role     = "roles/run.invoker"
  member   = each.value
}

resource "google_project_iam_member" "admin_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.admin.member
}

resource "google_secret_manager_secret_iam_member" "admin_secret_accessor" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.webhook.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.admin.member
}

resource "google_pubsub_topic_iam_member" "admin_publishes_completions" {
  project = var.project_id
  topic   = google_pubsub_topic.completions.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.admin.member
}

resource "google_pubsub_topic_iam_member" "admin_views_completions" {
  project = var.project_id
  topic   = google_pubsub_topic.completions.name
  role    = "roles/pubsub.viewer"
  member  = google_service_account.admin.member
}

# --- reconciler: Firestore, its secret (signs status requests), publish poll-sourced completions
resource "google_project_iam_member" "reconciler_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.reconciler.member
}

resource "google_secret_manager_secret_iam_member" "reconciler_secret_accessor" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.webhook.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.reconciler.member
}

resource "google_pubsub_topic_iam_member" "reconciler_publishes_completions" {
  project = var.project_id
  topic   = google_pubsub_topic.completions.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.reconciler.member
}

# --- the push identity also delivers the scheduler's ticks to the reconciler (operations.tf)
resource "google_cloud_run_service_iam_member" "reconciler_push_invoker" {
  project  = var.project_id
  location = var.region
  service  = module.reconciler.service
  role     = "roles/run.invoker"
  member   = google_service_account.push_invoker.member
}
