output "raw_bucket" {
  description = "Upload data files (and NAME.launch.json sidecars) under gs://RAW/incoming/."
  value       = google_storage_bucket.raw.name
}

output "datasets_bucket" {
  value = google_storage_bucket.datasets.name
}

output "outputs_bucket" {
  value = google_storage_bucket.outputs.name
}

output "launch_topic" {
  description = "Publish launch messages here (schema: docs/run-schema.md)."
  value       = google_pubsub_topic.launch.id
}

output "run_events_topic" {
  value = google_pubsub_topic.run_events.id
}

output "poller_url" {
  value = google_cloudfunctions2_function.poller.service_config[0].uri
}

output "status_url" {
  description = "The status API and dashboard (callers need run.invoker: var.status_viewers)."
  value       = google_cloudfunctions2_function.status.service_config[0].uri
}

output "functions" {
  value = {
    converter  = google_cloudfunctions2_function.converter.name
    launcher   = google_cloudfunctions2_function.launcher.name
    poller     = google_cloudfunctions2_function.poller.name
    completion = google_cloudfunctions2_function.completion.name
    status     = google_cloudfunctions2_function.status.name
  }
}
