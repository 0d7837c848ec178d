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
