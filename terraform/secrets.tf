# The webhook's HMAC secret. Its value never enters code or Terraform state: the optional first
# version is generated ephemerally and written with a write-only argument; later versions are added
# with `gcloud secrets versions add` (see the outputs). Functions read a pinned version number
# (functions.tf), so adding a version changes nothing until the rotation's next apply.

resource "google_secret_manager_secret" "webhook" {
  project   = var.project_id
  secret_id = local.names.secret
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [time_sleep.apis_ready]
}

ephemeral "random_password" "initial_webhook_secret" {
  length  = 43
  special = false
}

resource "google_secret_manager_secret_version" "initial" {
  count = var.webhook_secret.generate_initial ? 1 : 0

  secret                 = google_secret_manager_secret.webhook.id
  secret_data_wo         = ephemeral.random_password.initial_webhook_secret.result
  secret_data_wo_version = 1
  deletion_policy        = "ABANDON"

  lifecycle {
    # Rotation disables old versions outside Terraform; do not re-enable them.
    ignore_changes = [enabled]
  }
}
