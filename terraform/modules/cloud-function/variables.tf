variable "function" {
  description = "What differs between this project's functions: name, what it does (shown in the console), the entry point the code registers with the Functions Framework (FUNCTION_TARGET), its own runtime account's email, ingress (ALLOW_ALL for the public webhook and the IAM-protected admin; ALLOW_INTERNAL_ONLY for functions only Pub/Sub push calls), Cloud Run sizing, plain environment variables (never secrets), and environment variables read from Secret Manager (key → secret id and a pinned version number). Cloud Run allows concurrency above 1 only with at least 1 vCPU, more than 4 GiB only with 2 vCPU, more than 8 GiB only with 4."
  type = object({
    name          = string
    description   = string
    entry_point   = string
    account_email = string
    ingress       = string
    sizing = object({
      available_cpu    = string
      available_memory = string
      concurrency      = number
      min_instances    = number
      max_instances    = number
      timeout_seconds  = number
    })
    environment = optional(map(string), {})
    secrets = optional(map(object({
      secret  = string
      version = string
    })), {})
  })
  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.function.ingress)
    error_message = "function.ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
  validation {
    condition     = alltrue([for s in values(var.function.secrets) : can(regex("^[0-9]+$", s.version))])
    error_message = "function.secrets: pin a version number, never \"latest\" (a new version would reach new instances before the sender has it)."
  }
  validation {
    condition     = var.function.sizing.concurrency == 1 || tonumber(var.function.sizing.available_cpu) >= 1
    error_message = "function.sizing: Cloud Run rejects concurrency above 1 with less than 1 vCPU (\"Total cpu < 1 is not supported with concurrency > 1\"); set available_cpu = \"1\" or concurrency = 1."
  }
  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.function.sizing.available_memory))
    error_message = "function.sizing.available_memory must be like 512Mi or 1Gi."
  }
  validation {
    condition = (
      !can(regex("^[0-9]+(Mi|Gi)$", var.function.sizing.available_memory)) ||
      (
        (endswith(var.function.sizing.available_memory, "Gi") ? tonumber(trimsuffix(var.function.sizing.available_memory, "Gi")) * 1024 : tonumber(trimsuffix(var.function.sizing.available_memory, "Mi"))) <= 4096 * max(1, floor(tonumber(var.function.sizing.available_cpu)))
        && (tonumber(var.function.sizing.available_cpu) >= 1 || (endswith(var.function.sizing.available_memory, "Gi") ? tonumber(trimsuffix(var.function.sizing.available_memory, "Gi")) * 1024 : tonumber(trimsuffix(var.function.sizing.available_memory, "Mi"))) <= 1024)
      )
    )
    error_message = "function.sizing: Cloud Run allows at most 4 GiB per vCPU, and at most 1 GiB below 1 vCPU."
  }
  validation {
    condition     = var.function.sizing.min_instances >= 0 && var.function.sizing.max_instances >= 1 && var.function.sizing.min_instances <= var.function.sizing.max_instances
    error_message = "function.sizing: need 0 <= min_instances <= max_instances and max_instances >= 1."
  }
  validation {
    condition     = var.function.sizing.concurrency >= 1 && var.function.sizing.concurrency <= 1000 && var.function.sizing.timeout_seconds >= 10 && var.function.sizing.timeout_seconds <= 3600
    error_message = "function.sizing: concurrency must be 1-1000 and timeout_seconds 10-3600."
  }
}

variable "platform" {
  description = "What every function of this project shares: project, region, labels, the Cloud Functions runtime (nodejs24: the runtime the code is built and tested on), and how it is built (the archive in Cloud Storage, the account Cloud Build runs as, the build environment)."
  type = object({
    project_id = string
    region     = string
    labels     = optional(map(string), {})
    runtime    = string
    build = object({
      service_account = string
      source_bucket   = string
      source_object   = string
      environment     = optional(map(string), {})
    })
  })
  validation {
    condition     = can(regex("^nodejs[0-9]+$", var.platform.runtime))
    error_message = "platform.runtime must be a Node.js runtime id such as nodejs24."
  }
}
