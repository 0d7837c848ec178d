output "name" {
  description = "The function's name."
  value       = google_cloudfunctions2_function.this.name
}

output "service" {
  description = "The Cloud Run service behind the function (for run.invoker grants)."
  value       = google_cloudfunctions2_function.this.service_config[0].service
}

output "uri" {
  description = "The function's https URL."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "iam" {
  description = "The grants on the function's Cloud Run service, by key (\"role label\"), for resources that must wait for them."
  value       = google_cloud_run_service_iam_member.iam
}
