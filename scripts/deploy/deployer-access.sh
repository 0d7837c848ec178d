# What the deploy identity (omtx-deployer) may do beyond its plain roles, read by
# bootstrap-project.sh, which grants it, and check-deployer.sh, which checks it before a plan.
# test/unit/scripts/deploy/ keeps both lists equal to terraform/.

# The runtime accounts Terraform manages (terraform/serviceaccounts.tf, "<prefix>-<id>"). The
# bootstrap creates them and makes the deployer an admin of each of them, and of no other account.
runtime_account_ids="webhook worker push-invoker fn-build admin reconciler"

# The project-level roles terraform/iam.tf grants: the deployer may grant these and no other.
granted_roles="roles/cloudbuild.builds.builder roles/datastore.user"
