# Cloud Scheduler calls the poller with an OIDC token of its own service account, the only
# identity allowed to invoke it (iam.tf).
resource "google_cloud_scheduler_job" "poller" {
  name             = "${var.name_prefix}-poller"
  region           = var.region
  schedule         = var.poll_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "540s"
  retry_config {
    retry_count = 0 # the next scheduled tick is the retry; overlapping ticks are safe but wasteful
  }
  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.poller.service_config[0].uri
    oidc_token {
      service_account_email = google_service_account.sa["scheduler"].email
      audience              = google_cloudfunctions2_function.poller.service_config[0].uri
    }
  }
  depends_on = [google_project_service.apis]
}
