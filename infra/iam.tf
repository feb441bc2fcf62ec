# One service account per function, plus the scheduler's and the Eventarc triggers', each with
# only what it needs. Bucket and topic roles are granted on the bucket or topic, never project-wide;
# the project-level roles are the ones GCP offers no narrower scope for (Firestore, Vertex AI,
# logging, receiving Eventarc events). Each binding and why: docs/deploy.md.
locals {
  identities = {
    converter  = "Converter: reads raw uploads, writes datasets, publishes launch requests"
    launcher   = "Launcher: starts Vertex AI tuning jobs, records runs"
    poller     = "Poller: keeps runs true, resubmits stuck jobs"
    completion = "Completion handler: metrics, batch inference, evaluation"
    status     = "Status API and dashboard: reads runs, metrics and datasets"
    scheduler  = "Cloud Scheduler: calls the poller"
    trigger    = "Eventarc triggers: deliver events to the functions"
    builder    = "Function builds (Cloud Build): reads the function source, pushes images, writes build logs"
  }
}

resource "google_service_account" "sa" {
  for_each     = local.identities
  account_id   = "${var.name_prefix}-${each.key}"
  display_name = each.value
  depends_on   = [google_project_service.apis]
}

locals {
  sa = { for name, account in google_service_account.sa : name => "serviceAccount:${account.email}" }

  # Project-level roles, by identity.
  project_roles = {
    converter  = ["roles/datastore.user", "roles/logging.logWriter"]
    launcher   = ["roles/datastore.user", "roles/aiplatform.user", "roles/logging.logWriter"]
    poller     = ["roles/datastore.user", "roles/aiplatform.user", "roles/logging.logWriter"]
    completion = ["roles/datastore.user", "roles/aiplatform.user", "roles/logging.logWriter"]
    status     = ["roles/datastore.viewer", "roles/logging.logWriter"]
    trigger    = ["roles/eventarc.eventReceiver"]
    builder    = ["roles/logging.logWriter"]
  }
  project_bindings = flatten([for name, roles in local.project_roles : [for role in roles : { key = "${name}-${role}", name = name, role = role }]])

  # Bucket-level roles: who reads and who writes which bucket.
  bucket_bindings = {
    converter-raw-read        = { bucket = google_storage_bucket.raw.name, role = "roles/storage.objectViewer", member = local.sa.converter }
    converter-datasets-read   = { bucket = google_storage_bucket.datasets.name, role = "roles/storage.objectViewer", member = local.sa.converter }
    converter-datasets-create = { bucket = google_storage_bucket.datasets.name, role = "roles/storage.objectCreator", member = local.sa.converter }
    launcher-datasets-read    = { bucket = google_storage_bucket.datasets.name, role = "roles/storage.objectViewer", member = local.sa.launcher }
    launcher-datasets-create  = { bucket = google_storage_bucket.datasets.name, role = "roles/storage.objectCreator", member = local.sa.launcher }
    completion-datasets-read  = { bucket = google_storage_bucket.datasets.name, role = "roles/storage.objectViewer", member = local.sa.completion }
    completion-outputs-read   = { bucket = google_storage_bucket.outputs.name, role = "roles/storage.objectViewer", member = local.sa.completion }
    completion-outputs-create = { bucket = google_storage_bucket.outputs.name, role = "roles/storage.objectCreator", member = local.sa.completion }
    vertex-raw-read           = { bucket = google_storage_bucket.raw.name, role = "roles/storage.objectViewer", member = local.vertex_agent }
    vertex-datasets-read      = { bucket = google_storage_bucket.datasets.name, role = "roles/storage.objectViewer", member = local.vertex_agent }
    vertex-outputs-readwrite  = { bucket = google_storage_bucket.outputs.name, role = "roles/storage.objectUser", member = local.vertex_agent }
    builder-source-read       = { bucket = google_storage_bucket.source.name, role = "roles/storage.objectViewer", member = local.sa.builder }
  }

  # Topic-level roles: who may publish where.
  topic_bindings = {
    converter-launch      = { topic = google_pubsub_topic.launch.id, member = local.sa.converter }
    poller-run-events     = { topic = google_pubsub_topic.run_events.id, member = local.sa.poller }
    poller-launch         = { topic = google_pubsub_topic.launch.id, member = local.sa.poller } # admits queued runs
    completion-run-events = { topic = google_pubsub_topic.run_events.id, member = local.sa.completion }
  }
}

resource "google_project_iam_member" "roles" {
  for_each = { for binding in local.project_bindings : binding.key => binding }
  project  = var.project
  role     = each.value.role
  member   = local.sa[each.value.name]
}

resource "google_storage_bucket_iam_member" "roles" {
  for_each = local.bucket_bindings
  bucket   = each.value.bucket
  role     = each.value.role
  member   = each.value.member
}

resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = local.topic_bindings
  topic    = each.value.topic
  role     = "roles/pubsub.publisher"
  member   = each.value.member
}

# Vertex AI's service agent reads the training data (and the media it references) and writes
# batch predictions; it exists once the API is enabled.
resource "google_project_service_identity" "vertex" {
  provider = google-beta
  service  = "aiplatform.googleapis.com"
}

locals {
  vertex_agent = "serviceAccount:${google_project_service_identity.vertex.email}"
}

# The tuning job's workload runs as the "Vertex AI Secure Fine-Tuning Service Agent" when the job
# names no service account (TuningJob.service_account, tuning_job.proto; @google/genai cannot name
# one), so that agent reads the training data and the media it references. Its address follows
# Google's service-agent form; it may not exist in a project that never tuned, and then this
# binding fails: apply with -var=vertex_tuning_agent_access=false (docs/deploy.md).
locals {
  tuning_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-vertex-tune.iam.gserviceaccount.com"
}

resource "google_storage_bucket_iam_member" "tuning_agent_reads" {
  for_each = var.vertex_tuning_agent_access ? { raw = google_storage_bucket.raw.name, datasets = google_storage_bucket.datasets.name } : {}
  bucket   = each.value
  role     = "roles/storage.objectViewer"
  member   = local.tuning_agent
}

# Function builds run as their own identity ("Custom Service Account for Cloud Build", Cloud Run
# functions): since July 2024 a new project's default build account may lack the roles. It writes
# logs (project-wide: Logging offers no narrower scope), reads our source bucket, pushes images to
# our own repository only, and holds Storage Object Admin, as that page asks, on the service's
# gcf-v2-sources-* buckets only (the build process page names them), through an IAM condition.
resource "google_artifact_registry_repository" "functions" {
  repository_id = "${var.name_prefix}-functions"
  location      = var.region
  format        = "DOCKER"
  description   = "Images of the pipeline's functions"
  depends_on    = [google_project_service.apis]
}

resource "google_artifact_registry_repository_iam_member" "builder_pushes" {
  repository = google_artifact_registry_repository.functions.name
  location   = var.region
  role       = "roles/artifactregistry.writer"
  member     = local.sa.builder
}

resource "google_project_iam_member" "builder_function_sources" {
  project = var.project
  role    = "roles/storage.objectAdmin"
  member  = local.sa.builder
  condition {
    title       = "gcf-v2-sources buckets only"
    description = "The buckets Cloud Run functions keeps function sources in"
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\")"
  }
}

# Cloud Storage's service agent publishes the object-finalize notifications Eventarc listens to.
data "google_storage_project_service_account" "gcs" {}

resource "google_project_iam_member" "gcs_agent_publisher" {
  project = var.project
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

# Only the Eventarc trigger identity may invoke the event functions, and only the scheduler's the poller.
resource "google_cloud_run_service_iam_member" "trigger_invokes" {
  for_each = {
    converter  = google_cloudfunctions2_function.converter.service_config[0].service
    launcher   = google_cloudfunctions2_function.launcher.service_config[0].service
    completion = google_cloudfunctions2_function.completion.service_config[0].service
  }
  location = var.region
  service  = each.value
  role     = "roles/run.invoker"
  member   = local.sa.trigger
}

resource "google_cloud_run_service_iam_member" "scheduler_invokes_poller" {
  location = var.region
  service  = google_cloudfunctions2_function.poller.service_config[0].service
  role     = "roles/run.invoker"
  member   = local.sa.scheduler
}

# Who may read run status through the status function (people, groups, other apps' accounts).
resource "google_cloud_run_service_iam_member" "status_viewers" {
  for_each = toset(var.status_viewers)
  location = var.region
  service  = google_cloudfunctions2_function.status.service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value
}

locals {
  mlflow_secrets = { MLFLOW_TRACKING_TOKEN = var.mlflow_token_secret, MLFLOW_TRACKING_PASSWORD = var.mlflow_password_secret }
}

# The completion handler reads MLflow's secrets, and only those.
resource "google_secret_manager_secret_iam_member" "completion_mlflow" {
  for_each  = { for key, secret in local.mlflow_secrets : key => secret if secret != null }
  project   = var.project
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa.completion
}

# CMEK: Cloud Storage encrypts with the key through its service agent, which must hold
# cryptoKeyEncrypterDecrypter on it, or bucket creation fails ("Use customer-managed encryption
# keys", Cloud Storage docs: assign the Cloud Storage service agent to the key).
resource "google_kms_crypto_key_iam_member" "gcs_agent_cmek" {
  count         = var.kms_key_name == null ? 0 : 1
  crypto_key_id = var.kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}
