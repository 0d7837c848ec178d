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

locals {
  # Composite indexes, each as its fields in order. jobs_ranking: the ranking of a finished batch
  # (shared/adapters/firestore-batches.ts RANKING_INDEX): its completed jobs with an affinity, best
  # first in `affinity_direction`, then by confidence, then by job id, limited to
  # `worker.ranking_size`. Without it the query fails with FAILED_PRECONDITION and the finalising
  # message is redelivered until the index is built. `__name__` is spelled out: the API would add it
  # in the last field's (descending) order, and the query orders job ids ascending. Changing
  # `affinity_direction` replaces this index; batches finishing while it builds are finalised once
  # it is ready. executions_*: active executions (status, oldest first; optionally by batch) for the
  # admin API and the reconciler's scan. batches_by_status, jobs_by_batch*: the operator page's
  # listings, the last changed first (shared/adapters/firestore-operator.ts OPERATOR_INDEXES).
  firestore_indexes = {
    jobs_ranking = {
      collection = "jobs"
      fields = [
        { path = "batch_id", order = "ASCENDING" },
        { path = "status", order = "ASCENDING" },
        { path = "result.affinity", order = var.affinity_direction == "higher" ? "DESCENDING" : "ASCENDING" },
        { path = "result.confidence", order = "DESCENDING" },
        { path = "__name__", order = "ASCENDING" },
      ]
    }
    executions_by_status = {
      collection = "executions"
      fields     = [{ path = "status", order = "ASCENDING" }, { path = "registered_at", order = "ASCENDING" }]
    }
    batches_by_status = {
      collection = "batches"
      fields     = [{ path = "status", order = "ASCENDING" }, { path = "updated_at", order = "DESCENDING" }, { path = "__name__", order = "DESCENDING" }]
    }
    jobs_by_batch = {
      collection = "jobs"
      fields     = [{ path = "batch_id", order = "ASCENDING" }, { path = "updated_at", order = "DESCENDING" }, { path = "__name__", order = "DESCENDING" }]
    }
    jobs_by_batch_status = {
      collection = "jobs"
      fields     = [{ path = "batch_id", order = "ASCENDING" }, { path = "status", order = "ASCENDING" }, { path = "updated_at", order = "DESCENDING" }, { path = "__name__", order = "DESCENDING" }]
    }
    executions_by_batch = {
      collection = "executions"
      fields     = [{ path = "status", order = "ASCENDING" }, { path = "batch_id", order = "ASCENDING" }, { path = "registered_at", order = "ASCENDING" }]
    }
  }
}

resource "google_firestore_index" "index" {
  for_each = local.firestore_indexes

  project    = var.project_id
  database   = "(default)"
  collection = each.value.collection

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.path
      order      = fields.value.order
    }
  }

  depends_on = [time_sleep.apis_ready, google_firestore_database.default]
}
