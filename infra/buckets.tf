locals {
  bucket_prefix = "${var.project}-${var.name_prefix}"
}

# Raw uploads from data teams. Versioned, so an overwritten upload is not lost at once; old
# versions are deleted after var.noncurrent_version_days. The pipeline never changes or deletes
# what teams upload.
resource "google_storage_bucket" "raw" {
  name                        = "${local.bucket_prefix}-raw"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.gcs_agent_cmek]
}

# Validated JSONL, reports and merged training files: what Vertex AI reads.
resource "google_storage_bucket" "datasets" {
  name                        = "${local.bucket_prefix}-datasets"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.gcs_agent_cmek]
}

# Evaluation inputs and batch prediction outputs.
resource "google_storage_bucket" "outputs" {
  name                        = "${local.bucket_prefix}-outputs"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  dynamic "encryption" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.gcs_agent_cmek]
}

# The functions' source archives (Cloud Build reads them; nothing else needs to).
resource "google_storage_bucket" "source" {
  name                        = "${local.bucket_prefix}-function-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.gcs_agent_cmek]
}

data "archive_file" "source" {
  type        = "zip"
  source_dir  = var.source_dir
  output_path = "${path.module}/.build/source.zip"
  # What Cloud Build needs: package files, the TypeScript sources it builds, the tokenizer asset.
  # Everything .gitignore names (test output, coverage, scratch) stays out too.
  excludes = [".git", "node_modules", "dist", "infra", "test", "bench", "samples", ".ci", "docs", "test-artifacts", "coverage", ".tmp", "out"]
}

# Named by content hash: a code change is a new object, which redeploys the functions; no change, no redeploy.
resource "google_storage_bucket_object" "source" {
  name   = "source-${data.archive_file.source.output_sha256}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}
