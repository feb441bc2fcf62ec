# Upstream systems and the converter publish launch requests here.
resource "google_pubsub_topic" "launch" {
  name       = "${var.name_prefix}-launch"
  depends_on = [google_project_service.apis]
}

# Every run state change, for the completion handler and any other subscriber.
resource "google_pubsub_topic" "run_events" {
  name       = "${var.name_prefix}-run-events"
  depends_on = [google_project_service.apis]
}

# Messages that failed var.max_delivery_attempts deliveries land here, each held by a
# subscription (messages published to a topic without one are lost) for a week, to inspect and replay.
resource "google_pubsub_topic" "launch_dead_letter" {
  name       = "${var.name_prefix}-launch-dead-letter"
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "run_events_dead_letter" {
  name       = "${var.name_prefix}-run-events-dead-letter"
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription" "launch_dead_letter" {
  name                       = "${var.name_prefix}-launch-dead-letter-hold"
  topic                      = google_pubsub_topic.launch_dead_letter.id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60
  expiration_policy {
    ttl = ""
  }
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription" "run_events_dead_letter" {
  name                       = "${var.name_prefix}-run-events-dead-letter-hold"
  topic                      = google_pubsub_topic.run_events_dead_letter.id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60
  expiration_policy {
    ttl = ""
  }
  depends_on = [google_project_service.apis]
}

# Eventarc creates and owns the subscriptions of the functions' Pub/Sub triggers; it offers no
# dead-letter setting, so (as Google's Eventarc documentation describes) the dead-letter policy
# and retry backoff are set on the trigger's subscription after it exists. Re-applied whenever
# the trigger or the limits change.
locals {
  pubsub_triggers = {
    launcher = {
      subscription      = google_cloudfunctions2_function.launcher.event_trigger[0].trigger
      dead_letter_topic = google_pubsub_topic.launch_dead_letter.id
    }
    completion = {
      subscription      = google_cloudfunctions2_function.completion.event_trigger[0].trigger
      dead_letter_topic = google_pubsub_topic.run_events_dead_letter.id
    }
  }
}

resource "terraform_data" "trigger_dead_letter" {
  for_each = local.pubsub_triggers
  triggers_replace = {
    trigger               = each.value.subscription
    dead_letter_topic     = each.value.dead_letter_topic
    max_delivery_attempts = var.max_delivery_attempts
  }
  provisioner "local-exec" {
    command = <<-EOT
      set -e
      sub=$(gcloud eventarc triggers describe "${each.value.subscription}" --location=${var.region} --project=${var.project} --format='value(transport.pubsub.subscription)')
      gcloud pubsub subscriptions update "$sub" --project=${var.project} \
        --dead-letter-topic=${each.value.dead_letter_topic} \
        --max-delivery-attempts=${var.max_delivery_attempts} \
        --min-retry-delay=10s --max-retry-delay=600s
      gcloud pubsub subscriptions add-iam-policy-binding "$sub" --project=${var.project} \
        --member="${local.pubsub_agent}" --role=roles/pubsub.subscriber
    EOT
  }
}

# Pub/Sub's service agent forwards dead letters: it must publish to the dead-letter topics and
# acknowledge on the source subscriptions (granted on each trigger's subscription above).
locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = { launch = google_pubsub_topic.launch_dead_letter.id, run_events = google_pubsub_topic.run_events_dead_letter.id }
  topic    = each.value
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}
