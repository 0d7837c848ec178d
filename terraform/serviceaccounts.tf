# One service account per role, each granted only what that role needs (iam.tf).

locals {
  # role → account id suffix and what the account does.
  service_accounts = {
    webhook      = { id = "webhook", does = "Modal webhook (verifies and publishes completions)" }
    worker       = { id = "worker", does = "Completion worker (Firestore jobs, results, batch events)" }
    push_invoker = { id = "push-invoker", does = "Pub/Sub push identity that invokes the worker and the reconciler" }
    build        = { id = "fn-build", does = "Builds the functions' container images" }
    admin        = { id = "admin", does = "Webhook admin API (status, metrics, cancel, registration, test delivery)" }
    reconciler   = { id = "reconciler", does = "Reconciler (polls Modal for executions without a completion)" }
  }

  # Each role's account as an IAM member, for the grants.
  member = { for role, account in google_service_account.role : role => account.member }
}

# The bootstrap creates these accounts first (scripts/deploy/deployer-access.sh lists the same ids),
# so that the deploy identity can be made an admin of each of them alone: Terraform adopts an account
# that already exists instead of failing on it.
resource "google_service_account" "role" {
  for_each = local.service_accounts

  project                      = var.project_id
  account_id                   = "${var.name_prefix}-${each.value.id}"
  display_name                 = each.value.does
  create_ignore_already_exists = true
  depends_on                   = [time_sleep.apis_ready]
}
