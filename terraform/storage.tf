# Results bucket (structures, result.json, batch summaries, claim-checked bodies, kept: never
# force-destroyed, claim checks expire) and the bucket that holds the functions' source archives.

locals {
  buckets = {
    results = { name = local.names.results_bucket, force_destroy = false, expire_claims = true }
    source  = { name = local.names.source_bucket, force_destroy = true, expire_claims = false }
  }
}

resource "google_storage_bucket" "bucket" {
  for_each = local.buckets

  project                     = var.project_id
  name                        = each.value.name
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = each.value.force_destroy
  labels                      = local.labels

  dynamic "lifecycle_rule" {
    for_each = each.value.expire_claims ? [var.claim_check_retention_days] : []
    content {
      condition {
        age            = lifecycle_rule.value
        matches_prefix = ["claims/"]
      }
      action {
        type = "Delete"
      }
    }
  }

  depends_on = [time_sleep.apis_ready]
}
