# State lives in a GCS bucket the platform team owns, named at init time:
#   terraform init -backend-config="bucket=MY_STATE_BUCKET" -backend-config="prefix=gemini-sft-pipeline"
terraform {
  backend "gcs" {}
}
