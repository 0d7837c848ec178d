# Results bucket (structures, result.json, batch summaries, claim-checked bodies) and the bucket that
# holds the functions' source archives.

resource "google_storage_bucket" "results" {
  project                     = var.project_id
  name                        = local.names.results_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  lifecycle_rule {
    condition {
      age            = var.claim_check_retention_days
      matches_prefix = ["claims/"]
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [time_sleep.apis_ready]
}

resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = local.names.source_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = local.labels

  depends_on = [time_sleep.apis_ready]
}
