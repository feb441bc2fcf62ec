resource "google_firestore_database" "default" {
  name        = "(default)"
  location_id = var.region
  type        = "FIRESTORE_NATIVE"
  # Runs and datasets are the record of what was trained on what: never delete them with the stack.
  deletion_policy = "ABANDON"
  depends_on      = [google_project_service.apis]
}

# The composite indexes the queries need:
#  - the poller's active-run page: state NOT_IN (the terminal states) ordered by state, runId (adapters/firestore/poll-store.ts);
#  - the typed reader's listRuns: by state and/or experiment, newest first (adapters/firestore/run-reader.ts).
locals {
  run_indexes = {
    state-runId              = [["state", "ASCENDING"], ["runId", "ASCENDING"]]
    state-createTime         = [["state", "ASCENDING"], ["createTime", "DESCENDING"]]
    experiment-createTime    = [["experiment", "ASCENDING"], ["createTime", "DESCENDING"]]
    experiment-state-created = [["experiment", "ASCENDING"], ["state", "ASCENDING"], ["createTime", "DESCENDING"]]
  }
}

resource "google_firestore_index" "runs" {
  for_each   = local.run_indexes
  database   = google_firestore_database.default.name
  collection = "runs"
  dynamic "fields" {
    for_each = each.value
    content {
      field_path = fields.value[0]
      order      = fields.value[1]
    }
  }
}

# The status API pages a run's per-example comparison by verdict, in example order
# (runs/{runId}/examples, adapters/firestore/status-reader.ts).
resource "google_firestore_index" "examples_by_verdict" {
  database   = google_firestore_database.default.name
  collection = "examples"
  fields {
    field_path = "verdict"
    order      = "ASCENDING"
  }
  fields {
    field_path = "index"
    order      = "ASCENDING"
  }
}

# No TTL: runs, their metrics and datasets are records teams come back to; nothing in them expires.

# Security rules: apps (signed-in users) read runs, metrics and datasets; only the pipeline's
# service accounts write, through IAM (rules do not apply to server client libraries).
resource "google_firebaserules_ruleset" "firestore" {
  source {
    files {
      name    = "firestore.rules"
      content = file("${path.module}/../firestore.rules")
    }
  }
  depends_on = [google_firestore_database.default]
}

resource "google_firebaserules_release" "firestore" {
  name = "cloud.firestore"
  # The release names the ruleset by its full resource name (every provider example does).
  ruleset_name = "projects/${var.project}/rulesets/${google_firebaserules_ruleset.firestore.name}"
}
