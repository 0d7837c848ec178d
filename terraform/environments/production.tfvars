# Settings of the production environment that Cloud Build applies on main (cloudbuild.yaml,
# _TF_VAR_FILE). Committed and secret-free: project_id, region and name_prefix come from the build
# (TF_VAR_*), and the secret's value lives in Secret Manager only. Change access or alert routing
# here, in a reviewed commit, never by hand: the next apply would undo a console change.

# Who may call the private admin API. Nobody yet: name the on-call group
# (invokers = ["group:…"]) and remove allow_no_invokers before go-live.
admin = {
  invokers          = []
  allow_no_invokers = true
  modal_apps        = []
}

# Cloud Build's deploy identity (cloudbuild.yaml): it may call the admin API for the smoke test.
deployer_account_id = "omtx-deployer"

# Where alerts go (projects/PROJECT/notificationChannels/ID). None yet, and said so: replace
# alerts_muted with the on-call channel before go-live, or the alerts page nobody.
notification_channels = []
alerts_muted          = true

# Pinned secret versions; change them only as docs/deploy.md's rotation says.
# webhook_secret = { version = "2", previous_version = "1" }
