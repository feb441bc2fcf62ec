# The five Cloud Run functions (2nd gen, Node.js 22), one source archive, one service account each.
# Sizing, and why:
#  - converter: 1 vCPU, 1 GiB, 540 s (the event-function maximum), concurrency 1. Conversion is
#    CPU-bound (tokenising): one file per instance gets the whole CPU; a second vCPU doubles the
#    CPU price for at most 1.3x the speed (bench/convert.ts), so one is the cheapest per file. Memory
#    stays bounded by streaming (a 1 GB JSONL peaked at 284-575 MB uncapped over the benchmark's
#    runs, 323 MB with the heap capped at 384 MB), so 1 GiB leaves room for large lines and media checks.
#    At this sizing 1 GB of JSONL converts in about 46-47 s: about 11 GB fits the 540 s timeout.
#  - launcher: 1 vCPU, 1 GiB, 300 s, concurrency 10. Mostly waiting on Firestore and Vertex; a
#    merge of several datasets holds at most MERGE_MEMORY_MB (64) of examples, and ten at once
#    (640 MB) must fit beside the runtime. Cloud Run refuses a concurrency over 1 below one vCPU
#    ("Total cpu < 1 is not supported with concurrency > 1"), and 512 MiB alone gets less.
#  - poller: 512 MiB, 540 s, concurrency 1, at most 2 instances. One tick at a time is the point;
#    a tick over 1,000 young active runs took 21-28 s in the benchmark (2,000 Vertex calls).
#  - completion: 1 GiB, 540 s, concurrency 1. Scoring streams predictions but holds the references
#    (5,000 by default; 100,000 peaked at ~30 MB above baseline in the benchmark).
#  - status: 1 vCPU, 512 MiB, 60 s, concurrency 40 (one vCPU: see the launcher). Short Firestore
#    reads; the dashboard is static files.
# Ingress is internal only for the pipeline's four (the status function is below): Eventarc and
# Cloud Scheduler reach them from inside Google, and IAM (run.invoker) decides which identity may
# call which function.
locals {
  source = {
    bucket = google_storage_bucket.source.name
    object = google_storage_bucket_object.source.name
  }
}

resource "google_cloudfunctions2_function" "converter" {
  name     = "${var.name_prefix}-converter"
  location = var.region
  build_config {
    service_account   = google_service_account.sa["builder"].id
    docker_repository = google_artifact_registry_repository.functions.id
    runtime           = "nodejs22"
    entry_point       = "converter"
    source {
      storage_source {
        bucket = local.source.bucket
        object = local.source.object
      }
    }
  }
  service_config {
    available_cpu                    = "1"
    available_memory                 = "1Gi"
    timeout_seconds                  = 540
    max_instance_count               = 20
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    service_account_email            = google_service_account.sa["converter"].email
    environment_variables = {
      GOOGLE_CLOUD_PROJECT          = var.project
      GOOGLE_CLOUD_LOCATION         = var.region
      LOG_LEVEL                     = "INFO"
      MODEL_CATALOGUE               = jsonencode(var.model_catalogue)
      NODE_ENV                      = "production"
      RAW_BUCKET                    = google_storage_bucket.raw.name
      DATASETS_BUCKET               = google_storage_bucket.datasets.name
      INPUT_PREFIX                  = "incoming/"
      MAX_OBJECT_BYTES              = "2147483648"
      MAX_RECORD_BYTES              = "8MiB"
      LAUNCH_TOPIC                  = google_pubsub_topic.launch.name
      DATASETS_COLLECTION           = "datasets"
      MAX_INVALID_SHARE             = tostring(var.max_invalid_share)
      DUPLICATE_UPLOAD_WINDOW_HOURS = tostring(var.duplicate_upload_window_hours)
      DEFAULT_BASE_MODEL            = var.default_base_model
      CONVERSION_LEASE_SECONDS      = "600"
      HTTPS_MEDIA                   = var.https_media
      MEDIA_FETCH_TIMEOUT_SECONDS   = "30"
      PREFIX_DEFAULTS               = jsonencode(var.prefix_defaults)
    }
  }
  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.storage.object.v1.finalized"
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.sa["trigger"].email
    event_filters {
      attribute = "bucket"
      value     = google_storage_bucket.raw.name
    }
  }
  depends_on = [google_project_iam_member.gcs_agent_publisher, google_project_iam_member.roles]
}

resource "google_cloudfunctions2_function" "launcher" {
  name     = "${var.name_prefix}-launcher"
  location = var.region
  build_config {
    service_account   = google_service_account.sa["builder"].id
    docker_repository = google_artifact_registry_repository.functions.id
    runtime           = "nodejs22"
    entry_point       = "launcher"
    source {
      storage_source {
        bucket = local.source.bucket
        object = local.source.object
      }
    }
  }
  service_config {
    available_cpu                    = "1"
    available_memory                 = "1Gi"
    timeout_seconds                  = 300
    max_instance_count               = 10
    max_instance_request_concurrency = 10
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    service_account_email            = google_service_account.sa["launcher"].email
    environment_variables = {
      GOOGLE_CLOUD_PROJECT       = var.project
      GOOGLE_CLOUD_LOCATION      = var.region
      LOG_LEVEL                  = "INFO"
      MODEL_CATALOGUE            = jsonencode(var.model_catalogue)
      NODE_ENV                   = "production"
      RUNS_COLLECTION            = "runs"
      LAUNCH_LEASE_SECONDS       = "300"
      VERTEX_RETRIES             = "4"
      LAUNCH_MAX_DELIVERIES      = tostring(var.max_delivery_attempts)
      DATASETS_BUCKET            = google_storage_bucket.datasets.name
      MERGE_MEMORY_MB            = "64"
      MAX_RUN_COST_USD           = var.max_run_cost_usd == null ? "" : tostring(var.max_run_cost_usd)
      COST_BUDGET_USD            = var.cost_budget_usd == null ? "" : tostring(var.cost_budget_usd)
      ALLOW_UNKNOWN_COST         = tostring(var.allow_unknown_cost)
      ALLOWED_DATASET_PREFIXES   = join(",", var.allowed_dataset_prefixes)
      MAX_CONCURRENT_TUNING_JOBS = tostring(var.max_concurrent_tuning_jobs)
      ADMISSION_COLLECTION       = "admission"
    }
  }
  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic          = google_pubsub_topic.launch.id
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.sa["trigger"].email
  }
  depends_on = [google_project_iam_member.roles]
}

resource "google_cloudfunctions2_function" "poller" {
  name     = "${var.name_prefix}-poller"
  location = var.region
  build_config {
    service_account   = google_service_account.sa["builder"].id
    docker_repository = google_artifact_registry_repository.functions.id
    runtime           = "nodejs22"
    entry_point       = "poller"
    source {
      storage_source {
        bucket = local.source.bucket
        object = local.source.object
      }
    }
  }
  service_config {
    available_memory                 = "512Mi"
    timeout_seconds                  = 540
    max_instance_count               = 2
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    service_account_email            = google_service_account.sa["poller"].email
    environment_variables = {
      GOOGLE_CLOUD_PROJECT              = var.project
      GOOGLE_CLOUD_LOCATION             = var.region
      LOG_LEVEL                         = "INFO"
      MODEL_CATALOGUE                   = jsonencode(var.model_catalogue)
      NODE_ENV                          = "production"
      RUNS_COLLECTION                   = "runs"
      RUN_EVENTS_TOPIC                  = google_pubsub_topic.run_events.name
      STUCK_AFTER_SECONDS               = tostring(var.stuck_after_seconds)
      MAX_ATTEMPTS                      = tostring(var.max_attempts)
      RUNNING_WARNING_SECONDS           = "86400"
      POLL_CONCURRENCY                  = "8"
      RESUBMIT_LEASE_SECONDS            = "300"
      VERTEX_RETRIES                    = "2"
      STAGE_RESEND_SECONDS              = "900"
      DUPLICATE_CHECK_SECONDS           = "900"
      FALLBACK_REGIONS                  = join(",", var.fallback_regions)
      LIVE_METRICS                      = "true"
      LAUNCH_RECOVERY_FIRST_SECONDS     = "300"
      LAUNCH_RECOVERY_MAX_DELAY_SECONDS = "21600"
      LAUNCH_RECOVERY_HOURS             = "48"
      LAUNCH_TOPIC                      = google_pubsub_topic.launch.name
      MAX_CONCURRENT_TUNING_JOBS        = tostring(var.max_concurrent_tuning_jobs)
      ADMISSION_COLLECTION              = "admission"
    }
  }
  depends_on = [google_project_iam_member.roles]
}

resource "google_cloudfunctions2_function" "completion" {
  name     = "${var.name_prefix}-completion"
  location = var.region
  build_config {
    service_account   = google_service_account.sa["builder"].id
    docker_repository = google_artifact_registry_repository.functions.id
    runtime           = "nodejs22"
    entry_point       = "completion"
    source {
      storage_source {
        bucket = local.source.bucket
        object = local.source.object
      }
    }
  }
  service_config {
    available_memory                 = "1Gi"
    timeout_seconds                  = 540
    max_instance_count               = 10
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    service_account_email            = google_service_account.sa["completion"].email
    environment_variables = {
      GOOGLE_CLOUD_PROJECT     = var.project
      GOOGLE_CLOUD_LOCATION    = var.region
      LOG_LEVEL                = "INFO"
      MODEL_CATALOGUE          = jsonencode(var.model_catalogue)
      NODE_ENV                 = "production"
      RUNS_COLLECTION          = "runs"
      RUN_EVENTS_TOPIC         = google_pubsub_topic.run_events.name
      OUTPUTS_BUCKET           = google_storage_bucket.outputs.name
      EVALUATION_MAX_EXAMPLES  = tostring(var.evaluation_max_examples)
      COMPLETION_LEASE_SECONDS = "300"
      VERTEX_RETRIES           = "4"
      MLFLOW_TRACKING_URI      = var.mlflow_tracking_uri
      MLFLOW_TRACKING_USERNAME = var.mlflow_tracking_username
      ONLINE_CONCURRENCY       = "8"
      ONLINE_PART_SIZE         = "100"
      ONLINE_BUDGET_SECONDS    = "420"
      JUDGE_CONCURRENCY        = "4"
      JUDGE_BUDGET_SECONDS     = "240"
    }
    # MLflow's secrets come from Secret Manager at start-up: never in plain env, state or source.
    dynamic "secret_environment_variables" {
      for_each = { for key, secret in local.mlflow_secrets : key => secret if secret != null }
      content {
        key        = secret_environment_variables.key
        project_id = var.project
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }
  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic          = google_pubsub_topic.run_events.id
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.sa["trigger"].email
  }
  depends_on = [google_project_iam_member.roles]
}

# The status function: the read API and the dashboard. It only reads Firestore. Ingress is open so
# people and apps outside Google's network can reach it, but nothing is unauthenticated: only the
# members in var.status_viewers hold run.invoker (people open it through
# `gcloud run services proxy`, which signs their requests; see docs/status-api.md).
resource "google_cloudfunctions2_function" "status" {
  name     = "${var.name_prefix}-status"
  location = var.region
  build_config {
    service_account   = google_service_account.sa["builder"].id
    docker_repository = google_artifact_registry_repository.functions.id
    runtime           = "nodejs22"
    entry_point       = "status"
    source {
      storage_source {
        bucket = local.source.bucket
        object = local.source.object
      }
    }
  }
  service_config {
    available_cpu                    = "1"
    available_memory                 = "512Mi"
    timeout_seconds                  = 60
    max_instance_count               = 5
    max_instance_request_concurrency = 40
    ingress_settings                 = "ALLOW_ALL"
    service_account_email            = google_service_account.sa["status"].email
    environment_variables = {
      GOOGLE_CLOUD_PROJECT  = var.project
      GOOGLE_CLOUD_LOCATION = var.region
      LOG_LEVEL             = "INFO"
      MODEL_CATALOGUE       = jsonencode(var.model_catalogue)
      NODE_ENV              = "production"
      RUNS_COLLECTION       = "runs"
      DATASETS_COLLECTION   = "datasets"
    }
  }
  depends_on = [google_project_iam_member.roles]
}
