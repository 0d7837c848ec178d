# Settings of the production environment that Cloud Build applies on main (cloudbuild.yaml,
# _TF_VAR_FILE). Committed and secret-free: project_id, region and name_prefix come from the build
# (TF_VAR_*), and the secret's value lives in Secret Manager only. Change access or alert routing
# here, in a reviewed commit, never by hand: the next apply would undo a console change.

# Who may call the private admin API.
admin = {
  invokers   = []
  modal_apps = []
}

# Where alerts go (projects/PROJECT/notificationChannels/ID).
notification_channels = []

# Pinned secret versions; change them only as docs/deploy.md's rotation says.
# webhook_secret = { version = "2", previous_version = "1" }
