terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
  }
}

# With user credentials (gcloud auth application-default login, the documented local apply) some
# APIs, the Firebase Rules API among them, refuse calls that name no quota project: the provider
# sends var.project as the billing project ("user_project_override", Google provider reference,
# "Provider Configuration"). The deploying identity needs serviceusage.services.use on it.
provider "google" {
  project               = var.project
  region                = var.region
  user_project_override = var.user_project_override
  billing_project       = var.user_project_override ? var.project : null
}

provider "google-beta" {
  project               = var.project
  region                = var.region
  user_project_override = var.user_project_override
  billing_project       = var.user_project_override ? var.project : null
}

data "google_project" "this" {
  project_id = var.project
}
