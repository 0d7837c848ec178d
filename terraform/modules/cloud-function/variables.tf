variable "build" {
  description = "How the function is built: the archive in Cloud Storage, the account Cloud Build runs as, and the build environment."
  type = object({
    service_account = string
    source_bucket   = string
    source_object   = string
    environment     = optional(map(string), {})
  })
}

variable "description" {
  description = "What the function does, shown in the console."
  type        = string
}

variable "entry_point" {
  description = "The function name the code registers with the Functions Framework (FUNCTION_TARGET)."
  type        = string
}

variable "environment" {
  description = "Plain environment variables of the running function (never secrets: see secrets)."
  type        = map(string)
  default     = {}
}

variable "ingress" {
  description = "ALLOW_ALL for the public webhook and the IAM-protected admin; ALLOW_INTERNAL_ONLY for functions only Pub/Sub push calls."
  type        = string
  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress)
    error_message = "ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "labels" {
  description = "Labels of the function."
  type        = map(string)
  default     = {}
}

variable "name" {
  description = "Function (and Cloud Run service) name."
  type        = string
}

variable "project_id" {
  description = "Project of the function."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "secrets" {
  description = "Environment variables read from Secret Manager: key → secret id and a pinned version number."
  type = map(object({
    secret  = string
    version = string
  }))
  default = {}
  validation {
    condition     = alltrue([for s in values(var.secrets) : can(regex("^[0-9]+$", s.version))])
    error_message = "secrets: pin a version number, never \"latest\" (a new version would reach new instances before the sender has it)."
  }
}

variable "service_account_email" {
  description = "The function's own runtime service account."
  type        = string
}

variable "sizing" {
  description = "Cloud Run resources. Cloud Run allows concurrency above 1 only with at least 1 vCPU, more than 4 GiB only with 2 vCPU, more than 8 GiB only with 4."
  type = object({
    cpu             = string
    memory          = string
    concurrency     = number
    min_instances   = number
    max_instances   = number
    timeout_seconds = number
  })
  validation {
    condition     = var.sizing.concurrency == 1 || tonumber(var.sizing.cpu) >= 1
    error_message = "sizing: Cloud Run rejects concurrency above 1 with less than 1 vCPU (\"Total cpu < 1 is not supported with concurrency > 1\"); set cpu = \"1\" or concurrency = 1."
  }
  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.sizing.memory))
    error_message = "sizing.memory must be like 512Mi or 1Gi."
  }
  validation {
    condition = (
      !can(regex("^[0-9]+(Mi|Gi)$", var.sizing.memory)) ||
      (
        (endswith(var.sizing.memory, "Gi") ? tonumber(trimsuffix(var.sizing.memory, "Gi")) * 1024 : tonumber(trimsuffix(var.sizing.memory, "Mi"))) <= 4096 * max(1, floor(tonumber(var.sizing.cpu)))
        && (tonumber(var.sizing.cpu) >= 1 || (endswith(var.sizing.memory, "Gi") ? tonumber(trimsuffix(var.sizing.memory, "Gi")) * 1024 : tonumber(trimsuffix(var.sizing.memory, "Mi"))) <= 1024)
      )
    )
    error_message = "sizing: Cloud Run allows at most 4 GiB per vCPU, and at most 1 GiB below 1 vCPU."
  }
  validation {
    condition     = var.sizing.min_instances >= 0 && var.sizing.max_instances >= 1 && var.sizing.min_instances <= var.sizing.max_instances
    error_message = "sizing: need 0 <= min_instances <= max_instances and max_instances >= 1."
  }
  validation {
    condition     = var.sizing.concurrency >= 1 && var.sizing.concurrency <= 1000 && var.sizing.timeout_seconds >= 10 && var.sizing.timeout_seconds <= 3600
    error_message = "sizing: concurrency must be 1-1000 and timeout_seconds 10-3600."
  }
}
