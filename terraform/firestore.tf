# The project's (default) Firestore database: used as it is, or created when firestore.create is set.

resource "google_firestore_database" "default" {
  count = var.firestore.create ? 1 : 0

  project                 = var.project_id
  name                    = "(default)"
  location_id             = var.firestore.location_id
  type                    = "FIRESTORE_NATIVE"
  concurrency_mode        = "OPTIMISTIC"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [google_project_service.apis]
}
