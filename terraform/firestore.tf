# The project's (default) Firestore database. A fresh project has none, so it is created by default.
# A project that already has one adopts it instead of failing with 409 (docs/deploy.md):
#   terraform import 'google_firestore_database.default[0]' 'projects/PROJECT_ID/databases/(default)'
# or sets firestore = { create = false } to leave it unmanaged.

resource "google_firestore_database" "default" {
  count = var.firestore.create ? 1 : 0

  project                 = var.project_id
  name                    = "(default)"
  location_id             = var.firestore.location_id
  type                    = "FIRESTORE_NATIVE"
  concurrency_mode        = "OPTIMISTIC"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [time_sleep.apis_ready]
}

# The ranking of a finished batch (shared/adapters/firestore.ts topRankedJobs): its completed jobs
# with an affinity, best first in `affinity_direction`, then by confidence, then by job id, limited
# to `worker.ranking_size`. Without it the query fails with FAILED_PRECONDITION and the finalising
# message is redelivered until the index is built. `__name__` is spelled out: the API would add it
# in the last field's (descending) order, and the query orders job ids ascending. Changing
# `affinity_direction` replaces this index; batches finishing while it builds are finalised once
# it is ready.
resource "google_firestore_index" "jobs_ranking" {
  project    = var.project_id
  database   = "(default)"
  collection = "jobs"

  fields {
    field_path = "batch_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "result.affinity"
    order      = var.affinity_direction == "higher" ? "DESCENDING" : "ASCENDING"
  }
  fields {
    field_path = "result.confidence"
    order      = "DESCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }

  depends_on = [time_sleep.apis_ready, google_firestore_database.default]
}
