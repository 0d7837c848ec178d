terraform {
  required_version = ">= 1.11"

  # State in a GCS bucket: terraform init -backend-config="bucket=STATE_BUCKET" (docs/deploy.md).
  backend "gcs" {
    prefix = "omtx-modal-webhooks"
  }

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50" # one major: a new major is a reviewed upgrade, not a surprise in CI
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.9"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
