# One service account per role, each granted only what that role needs (iam.tf).

resource "google_service_account" "webhook" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-webhook"
  display_name = "Modal webhook (verifies and publishes completions)"
  depends_on   = [time_sleep.apis_ready]
}

resource "google_service_account" "worker" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-worker"
  display_name = "Completion worker (Firestore jobs, results, batch events)"
  depends_on   = [time_sleep.apis_ready]
}

resource "google_service_account" "push_invoker" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-push-invoker"
  display_name = "Pub/Sub push identity that invokes the worker and the reconciler"
  depends_on   = [time_sleep.apis_ready]
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-fn-build"
  display_name = "Builds the functions' container images"
  depends_on   = [time_sleep.apis_ready]
}

resource "google_service_account" "admin" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-admin"
  display_name = "Webhook admin API (status, metrics, cancel, registration, test delivery)"
  depends_on   = [time_sleep.apis_ready]
}

resource "google_service_account" "reconciler" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-reconciler"
  display_name = "Reconciler (polls Modal for executions without a completion)"
  depends_on   = [time_sleep.apis_ready]
}
