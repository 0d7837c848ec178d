variable "function" {
  description = "What differs between this project's functions: name, what it does (shown in the console), the entry point the code registers with the Functions Framework (FUNCTION_TARGET), its own runtime account's email, ingress, Cloud Run sizing (defaults: 1 vCPU, 512 MiB, 80 requests at once, 0-10 instances, 60 s), plain environment variables (never secrets), environment variables read from Secret Manager (key → secret id and a pinned version number), and IAM on its Cloud Run service (role → label → member; the labels are the grants' keys, so they must be known at plan time even where a member is not)."
  type = object({
    name          = string
    description   = string
    entry_point   = string
    account_email = string
    ingress       = optional(string, "ALLOW_INTERNAL_ONLY")
    sizing = optional(object({
      cpu             = optional(string, "1")
      memory_mib      = optional(number, 512)
      concurrency     = optional(number, 80)
      min_instances   = optional(number, 0)
      max_instances   = optional(number, 10)
      timeout_seconds = optional(number, 60)
    }), {})
    environment = optional(map(string), {})
    secrets = optional(map(object({
      secret  = string
      version = string
    })), {})
    iam = optional(map(map(string)), {})
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
    condition     = var.function.sizing.concurrency == 1 || tonumber(var.function.sizing.cpu) >= 1
    error_message = "function.sizing: Cloud Run rejects concurrency above 1 with less than 1 vCPU (\"Total cpu < 1 is not supported with concurrency > 1\"); set cpu = \"1\" or concurrency = 1."
  }
  validation {
    condition     = var.function.sizing.memory_mib >= 128 && var.function.sizing.memory_mib <= 4096 * max(1, floor(tonumber(var.function.sizing.cpu))) && (tonumber(var.function.sizing.cpu) >= 1 || var.function.sizing.memory_mib <= 1024)
    error_message = "function.sizing: memory_mib is 128 or more, at most 4096 per vCPU, and at most 1024 below 1 vCPU (Cloud Run's rules)."
  }
  validation {
    condition     = var.function.sizing.min_instances >= 0 && var.function.sizing.max_instances >= 1 && var.function.sizing.min_instances <= var.function.sizing.max_instances
    error_message = "function.sizing: need 0 <= min_instances <= max_instances and max_instances >= 1."
  }
  validation {
    condition     = var.function.sizing.concurrency >= 1 && var.function.sizing.concurrency <= 1000 && var.function.sizing.timeout_seconds >= 10 && var.function.sizing.timeout_seconds <= 3600
    error_message = "function.sizing: concurrency must be 1-1000 and timeout_seconds 10-3600."
  }
  validation {
    condition     = alltrue([for role in keys(var.function.iam) : startswith(role, "roles/")])
    error_message = "function.iam: keys are roles, such as roles/run.invoker."
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
