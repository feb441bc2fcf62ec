variable "project" {
  description = "The Google Cloud project the pipeline runs in."
  type        = string
}

variable "region" {
  description = "Region of the functions, buckets and Vertex AI jobs (a region where Gemini tuning is offered)."
  type        = string
  default     = "us-central1"
}

variable "vertex_tuning_agent_access" {
  description = "Let the Vertex AI Secure Fine-Tuning Service Agent (service-NUMBER@gcp-sa-vertex-tune), which tuning jobs run as, read the raw and datasets buckets. Set false if the agent does not exist yet in the project (the binding then fails)."
  type        = bool
  default     = true
}

variable "user_project_override" {
  description = "Send the project as the quota and billing project of every API call (needed when applying with user credentials: the Firebase Rules API refuses calls without one). The deploying identity needs serviceusage.services.use on the project."
  type        = bool
  default     = true
}

variable "name_prefix" {
  description = "Prefix of every resource name; bucket names add the project id so they are globally unique."
  type        = string
  default     = "sft"
}

variable "kms_key_name" {
  description = "Optional CMEK key (projects/P/locations/L/keyRings/R/cryptoKeys/K) for the three buckets; null for Google-managed keys."
  type        = string
  default     = null
}

variable "noncurrent_version_days" {
  description = "Old versions of raw objects (overwritten uploads) are deleted after this many days."
  type        = number
  default     = 30
}

variable "stuck_after_seconds" {
  description = "A first attempt still queued this long is cancelled and resubmitted (later attempts wait 2x, 4x)."
  type        = number
  default     = 21600
}

variable "model_catalogue" {
  description = "Operator rows over the built-in model catalogue (shared/gemini/models.ts), passed to every function as MODEL_CATALOGUE: a model released after this release (every field), or corrections such as a training price (id and the fields). Checked by zod at start-up."
  type        = any
  default     = []
}

variable "max_run_cost_usd" {
  description = "Per-run spending limit in USD on the converter's cost estimate (launches over it are REJECTED with the figures); null: none."
  type        = number
  default     = null
}

variable "cost_budget_usd" {
  description = "Monthly (UTC) tuning budget in USD over the estimates of the month's runs; null: none."
  type        = number
  default     = null
}

variable "allow_unknown_cost" {
  description = "With a limit set, whether a run without a cost estimate (its model's training price unknown) may start."
  type        = bool
  default     = false
}

variable "fallback_regions" {
  description = "Opt-in: a job stuck waiting for capacity is resubmitted in the next of these tuning regions (after var.region, in order). Its tuned model, metrics and evaluation then live there: list only regions your data may go to."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for r in var.fallback_regions : can(regex("^[a-z]+-[a-z]+[0-9]+$", r))])
    error_message = "fallback_regions holds region ids such as europe-west4."
  }
}

variable "max_attempts" {
  description = "Vertex jobs per run at most, the first submission included (tuning and each batch prediction)."
  type        = number
  default     = 3
}

variable "duplicate_upload_window_hours" {
  description = "The same bytes with the same launch spec uploaded again within this many hours start no second tuning run (the dataset points at the first run). 0 launches every upload."
  type        = number
  default     = 24
}

variable "allowed_dataset_prefixes" {
  description = "gs:// prefixes (gs://BUCKET/PATH/) launches may read besides the datasets bucket; the launcher's identity also needs read access there. Anything else is refused."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for prefix in var.allowed_dataset_prefixes : can(regex("^gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]/", prefix))])
    error_message = "Each prefix is gs://BUCKET/ or gs://BUCKET/PATH/."
  }
}

variable "max_concurrent_tuning_jobs" {
  description = "Runs holding a Vertex tuning job at once; the rest wait in the pipeline's queue. Vertex's default quota is 1 per project: raise both together. 0 turns the queue off."
  type        = number
  default     = 1
  validation {
    condition     = var.max_concurrent_tuning_jobs >= 0 && var.max_concurrent_tuning_jobs <= 100
    error_message = "max_concurrent_tuning_jobs is 0 (off) to 100."
  }
}

variable "max_invalid_share" {
  description = "A dropped file starts a run only when at most this share of its examples was rejected."
  type        = number
  default     = 0.1
}

variable "default_base_model" {
  description = "Base model for launch sidecars that name none."
  type        = string
  default     = "gemini-3.5-flash-lite"
}

variable "max_delivery_attempts" {
  description = "Deliveries of a launch or run-events message before it goes to its dead-letter topic (Pub/Sub allows 5 to 100)."
  type        = number
  default     = 10
}

variable "poll_schedule" {
  description = "Cloud Scheduler cron for the poller."
  type        = string
  default     = "*/5 * * * *"
}

variable "evaluation_max_examples" {
  description = "Held-out examples sent to each model for evaluation at most."
  type        = number
  default     = 5000
}

variable "mlflow_tracking_uri" {
  description = "Optional MLflow tracking server the completion handler also logs training metrics to; empty for none."
  type        = string
  default     = ""
}

variable "mlflow_tracking_username" {
  description = "MLflow basic-auth user name (MLFLOW_TRACKING_USERNAME); its password comes from var.mlflow_password_secret."
  type        = string
  default     = ""
}

variable "mlflow_token_secret" {
  description = "Secret Manager secret id (in var.project) holding an MLflow bearer token (MLFLOW_TRACKING_TOKEN); null for none."
  type        = string
  default     = null
}

variable "mlflow_password_secret" {
  description = "Secret Manager secret id (in var.project) holding the MLflow basic-auth password (MLFLOW_TRACKING_PASSWORD); null for none."
  type        = string
  default     = null
}

variable "source_dir" {
  description = "The repository root, zipped as the functions' source (built JavaScript in dist/ plus package.json)."
  type        = string
  default     = ".."
}

variable "status_viewers" {
  description = "Members allowed to call the status API and open the dashboard, e.g. [\"group:data-team@example.com\"]. Named identities only: the function is never public."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for member in var.status_viewers : can(regex("^(user|group|serviceAccount|domain):", member))])
    error_message = "status_viewers takes user:, group:, serviceAccount: or domain: members only; the status function is never public."
  }
}

variable "https_media" {
  description = "https fileData in uploaded datasets: \"warn\" (leave it, with a warning) or \"copy\" (copy it into the datasets bucket under media/ so the job does not depend on the remote host)."
  type        = string
  default     = "warn"
  validation {
    condition     = contains(["warn", "copy"], var.https_media)
    error_message = "https_media is \"warn\" or \"copy\"."
  }
}

variable "prefix_defaults" {
  description = "Launch specs (sidecar JSON) by raw-bucket prefix, for data files uploaded with neither a NAME.launch.json sidecar nor sft-sidecar metadata, e.g. { \"incoming/support/\" = { launch = { experiment = \"support\" } } }."
  type        = any
  default     = {}
}
