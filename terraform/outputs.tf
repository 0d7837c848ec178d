output "admin_url" {
  description = "The private admin API (call with an identity token of an admin.invokers member)."
  value       = "${module.function["admin"].uri}/api/v3/webhooks/status"
}

output "batch_events_topic" {
  description = "Topic where batch.completed events are published, for downstream subscribers."
  value       = google_pubsub_topic.topic["batch_events"].name
}

output "completions_topic" {
  description = "Topic the webhook publishes completions to."
  value       = google_pubsub_topic.topic["completions"].name
}

output "dashboard" {
  description = "Cloud Monitoring dashboard in the console."
  value       = "https://console.cloud.google.com/monitoring/dashboards/builder/${element(split("/", google_monitoring_dashboard.pipeline.id), length(split("/", google_monitoring_dashboard.pipeline.id)) - 1)}?project=${var.project_id}"
}

output "operator_page" {
  description = "The operator page: run this (it needs roles/run.invoker on the admin, see admin.invokers), then open http://localhost:8080/ui/."
  value       = "gcloud run services proxy ${element(split("/", module.function["admin"].service), length(split("/", module.function["admin"].service)) - 1)} --region ${var.region} --project ${var.project_id} --port 8080"
}

output "results_bucket" {
  description = "Bucket with result files (jobs/), batch summaries (batches/) and claim-checked bodies (claims/)."
  value       = google_storage_bucket.bucket["results"].name
}

output "secret_add_version_command" {
  description = "Adds a new webhook secret version (the value never passes through Terraform)."
  value       = "openssl rand -base64 32 | tr -d '\\n' | gcloud secrets versions add ${google_secret_manager_secret.webhook.secret_id} --project=${var.project_id} --data-file=-"
}

output "secret_id" {
  description = "Secret Manager secret holding MODAL_WEBHOOK_SECRET."
  value       = google_secret_manager_secret.webhook.secret_id
}

output "secret_read_command" {
  description = "Prints the secret version the functions read, to configure the Modal sender with it."
  value       = "gcloud secrets versions access ${local.secret_version} --secret=${google_secret_manager_secret.webhook.secret_id} --project=${var.project_id}"
}

output "webhook_completion_url" {
  description = "The seed-style URL to configure in the Modal app."
  value       = "${module.webhook.uri}/api/v3/webhooks/modal/completion"
}

output "webhook_health_url" {
  description = "Health check of the webhook."
  value       = "${module.webhook.uri}/api/v3/webhooks/modal/health"
}

output "webhook_url" {
  description = "The webhook's Cloud Functions URL (POST / accepts completions)."
  value       = module.webhook.uri
}

output "worker_subscription" {
  description = "Push subscription feeding the completion worker."
  value       = google_pubsub_subscription.push["worker"].name
}

output "worker_url" {
  description = "The completion worker's URL (private: only the push identity may invoke it)."
  value       = module.function["worker"].uri
}

output "secret_version" {
  description = "The secret version number the functions read (pinned)."
  value       = local.secret_version
}

output "project_id" {
  description = "The project the pipeline is deployed in (configure-modal reads the secret's version there)."
  value       = var.project_id
}
