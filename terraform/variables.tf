variable "admin" {
  description = "Admin API (private). invokers: IAM members allowed to call it (e.g. \"group:oncall@example.com\"); allow_no_invokers: say so explicitly when nobody may call it yet (an empty list alone is refused); modal_control_url: the Modal app's control endpoint (cancel, test delivery) for apps without their own; modal_apps: Modal apps expected to send webhooks, each \"name\" or \"name=https://its-control-endpoint\" (npm run configure-modal); allowed_origins: where the operator page is opened, as the browser sees it (behind `gcloud run services proxy --port 8080`: localhost:8080) — a state-changing request from any other origin is refused."
  type = object({
    invokers          = optional(list(string), [])
    allow_no_invokers = optional(bool, false)
    max_instances     = optional(number, 3)
    modal_control_url = optional(string)
    modal_apps        = optional(list(string), [])
    allowed_origins   = optional(list(string), ["http://localhost:8080", "http://127.0.0.1:8080"])
  })
  default  = {}
  nullable = false
  validation {
    condition     = alltrue([for o in var.admin.allowed_origins : can(regex("^https?://[A-Za-z0-9.-]+(:[0-9]+)?$", o))])
    error_message = "admin.allowed_origins are origins such as http://localhost:8080: scheme, host and port, no path."
  }
  validation {
    condition     = alltrue([for m in var.admin.invokers : can(regex("^(user|group|serviceAccount|domain):", m))]) && !contains(var.admin.invokers, "allUsers") && !contains(var.admin.invokers, "allAuthenticatedUsers")
    error_message = "admin.invokers must be IAM members such as group:oncall@example.com; the admin API is never public."
  }
  validation {
    condition     = length(var.admin.invokers) > 0 || var.admin.allow_no_invokers
    error_message = "admin.invokers is empty: nobody could call the admin API (status, cancel, test delivery, manual completions). Name the on-call group, or set admin.allow_no_invokers = true to say that this is intended."
  }
  validation {
    condition     = var.admin.modal_control_url == null || can(regex("^https://", coalesce(var.admin.modal_control_url, "https://")))
    error_message = "admin.modal_control_url must be an https:// URL."
  }
}

variable "affinity_direction" {
  description = "Which affinity ranks a batch's jobs first: \"higher\" or \"lower\" values."
  type        = string
  default     = "higher"
  validation {
    condition     = contains(["higher", "lower"], var.affinity_direction)
    error_message = "affinity_direction must be \"higher\" or \"lower\"."
  }
}

variable "alerts" {
  description = "Thresholds of the alerts that no SLO covers (webhook 5xx and latency are SLOs: see slo): oldest unacked completion older than oldest_unacked_age_seconds for 5 minutes; signature rejections above signature_rejections_per_min for 2 minutes; oldest unprocessed reconciler tick older than reconcile_tick_age_seconds for 5 minutes (three missed passes at the default schedule; the tick subscription keeps messages 15 minutes longer, so the alert always has one to see); no finished reconciler pass for reconciler_silence_seconds (Cloud Scheduler stopped, or every pass fails)."
  type = object({
    oldest_unacked_age_seconds   = optional(number, 600)
    signature_rejections_per_min = optional(number, 30)
    reconcile_tick_age_seconds   = optional(number, 900)
    reconciler_silence_seconds   = optional(number, 1800)
  })
  default  = {}
  nullable = false
  validation {
    # Pub/Sub keeps a subscription's messages for 10 minutes to 7 days; the tick subscription keeps
    # them reconcile_tick_age_seconds + 900 s (operations.tf).
    condition     = var.alerts.reconcile_tick_age_seconds >= 60 && var.alerts.reconcile_tick_age_seconds + 900 <= 604800
    error_message = "alerts.reconcile_tick_age_seconds is 60 to 603900: the tick subscription must keep a tick 900 s longer than the alert waits, and Pub/Sub keeps messages at most 7 days."
  }
  validation {
    # Monitoring's absence conditions take 120 s to 23.5 h, in whole minutes.
    condition     = var.alerts.reconciler_silence_seconds >= 600 && var.alerts.reconciler_silence_seconds <= 84600 && var.alerts.reconciler_silence_seconds % 60 == 0
    error_message = "alerts.reconciler_silence_seconds is whole minutes from 600 to 84600 (23.5 h, Monitoring's longest absence window), and should span several scheduled passes."
  }
}

variable "alerts_muted" {
  description = "True when this environment deliberately notifies nobody (no notification_channels): the alerts still exist and show in the console, but page no one. Says so in review instead of an empty list that looks like an oversight."
  type        = bool
  default     = false
  nullable    = false
}

variable "claim_check_retention_days" {
  description = "Days a claim-checked webhook body (claims/ in the results bucket) is kept before deletion."
  type        = number
  default     = 7
  validation {
    condition     = var.claim_check_retention_days >= 1 && var.claim_check_retention_days <= 365
    error_message = "claim_check_retention_days must be between 1 and 365."
  }
}

variable "deployer_account_id" {
  description = "Account id (the part before @) of the service account Cloud Build deploys as (cloudbuild.yaml: omtx-deployer). It may call the admin API, for the smoke test after each deploy. null when nothing deploys through Cloud Build."
  type        = string
  default     = null
  validation {
    condition     = var.deployer_account_id == null || can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", coalesce(var.deployer_account_id, "x")))
    error_message = "deployer_account_id is a service account id such as omtx-deployer (6–30 characters), not an email."
  }
}

variable "firestore" {
  description = "Firestore: create the project's (default) database in location_id (a fresh project has none), or, with create = false, use the one it has. To adopt an existing database into this state, import it (docs/deploy.md)."
  type = object({
    create      = optional(bool, true)
    location_id = optional(string, "nam5")
  })
  default  = {}
  nullable = false
}

variable "labels" {
  description = "Labels added to every resource that takes them."
  type        = map(string)
  default     = {}
}

variable "name_prefix" {
  description = "Prefix of every resource name (functions, topics, buckets, service accounts)."
  type        = string
  default     = "omtx"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-16 characters: lower-case letters, digits and hyphens, starting with a letter (service account ids are limited to 30 characters)."
  }
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channel ids (projects/P/notificationChannels/N) that alerts notify. Empty is refused unless alerts_muted says so."
  type        = list(string)
  default     = []
  validation {
    condition     = length(var.notification_channels) > 0 || var.alerts_muted
    error_message = "notification_channels is empty: every alert would page nobody. Name the on-call channel(s), or set alerts_muted = true to say that this environment is deliberately silent."
  }
}

variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid Google Cloud project id."
  }
}

variable "reconciler" {
  description = "Migration from polling: completion_mode dual | webhook_primary | webhook_only (docs/operations.md, Migration from polling), how often the reconciler runs (cron, UTC), after how long a running execution counts as stale, and the Modal app's status endpoint (required for dual and webhook_primary). The default, webhook_only, needs no status endpoint: it marks executions without a webhook stale."
  type = object({
    completion_mode     = optional(string, "webhook_only")
    schedule            = optional(string, "*/5 * * * *")
    stale_after_seconds = optional(number, 900)
    modal_status_url    = optional(string)
  })
  default  = {}
  nullable = false
  validation {
    condition     = contains(["dual", "webhook_primary", "webhook_only"], var.reconciler.completion_mode)
    error_message = "reconciler.completion_mode must be dual, webhook_primary or webhook_only."
  }
  validation {
    condition     = var.reconciler.completion_mode == "webhook_only" || var.reconciler.modal_status_url != null
    error_message = "reconciler.modal_status_url is required unless completion_mode is webhook_only (the reconciler polls it)."
  }
  validation {
    condition     = var.reconciler.stale_after_seconds >= 30
    error_message = "reconciler.stale_after_seconds must be at least 30."
  }
}

variable "region" {
  description = "Region of the functions, buckets and Cloud Run services, e.g. us-central1."
  type        = string
  default     = "us-central1"
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or europe-west4."
  }
}

variable "slo" {
  description = "Service level objectives (terraform/slo.tf, docs/deploy.md): webhook availability goal (share of requests without 5xx); completion freshness goal and its threshold in seconds (webhook received → job applied); batch completion goal and its threshold in seconds (last completion's webhook → batch finalised); the rolling window in days. Thresholds must be bucket bounds of the latency metrics: 1, 2.5, 5, 10, 30, 60, 120, 300, 600 or 1800 seconds."
  type = object({
    webhook_availability_goal = optional(number, 0.999)
    freshness_goal            = optional(number, 0.99)
    freshness_seconds         = optional(number, 60)
    batch_goal                = optional(number, 0.99)
    batch_seconds             = optional(number, 120)
    rolling_days              = optional(number, 28)
  })
  default  = {}
  nullable = false
  validation {
    condition     = alltrue([for g in [var.slo.webhook_availability_goal, var.slo.freshness_goal, var.slo.batch_goal] : g > 0 && g < 1])
    error_message = "slo goals are shares strictly between 0 and 1 (0.999 = 99.9 %)."
  }
  validation {
    condition     = alltrue([for t in [var.slo.freshness_seconds, var.slo.batch_seconds] : contains([1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800], t)])
    error_message = "slo.freshness_seconds and slo.batch_seconds must be bucket bounds of the latency metrics: 1, 2.5, 5, 10, 30, 60, 120, 300, 600 or 1800."
  }
  validation {
    condition     = var.slo.rolling_days >= 1 && var.slo.rolling_days <= 30 && floor(var.slo.rolling_days) == var.slo.rolling_days
    error_message = "slo.rolling_days must be a whole number of days from 1 to 30."
  }
}

variable "source_dir" {
  description = "Directory holding the built function bundle (npm run bundle writes it to .build/function): relative to terraform/, or absolute (a rollback's older bundle, docs/deploy.md)."
  type        = string
  default     = "../.build/function"
}

variable "webhook" {
  description = "Webhook function sizing (Cloud Run's CPU/memory/concurrency rules are checked in modules/cloud-function). It only verifies and publishes: small, highly concurrent instances. publish_timeout_seconds: a publish (or claim-check upload) that has not completed by then is cancelled and answered 503, well before the sender's own timeout."
  type = object({
    cpu                     = optional(string, "1")
    memory_mib              = optional(number, 512)
    concurrency             = optional(number, 80)
    max_instances           = optional(number, 20)
    min_instances           = optional(number, 1)
    timeout_seconds         = optional(number, 60)
    claim_threshold_mb      = optional(number, 5)
    publish_timeout_seconds = optional(number, 10)
    signature_schemes       = optional(list(string), ["modal", "standard"])
  })
  default  = {}
  nullable = false
  validation {
    condition     = length(var.webhook.signature_schemes) > 0 && alltrue([for s in var.webhook.signature_schemes : contains(["modal", "standard"], s)])
    error_message = "webhook.signature_schemes lists modal and/or standard (standard alone requires the Standard Webhooks scheme, which signs the timestamp)."
  }
  validation {
    condition     = var.webhook.publish_timeout_seconds >= 1 && var.webhook.publish_timeout_seconds < var.webhook.timeout_seconds
    error_message = "webhook.publish_timeout_seconds must be at least 1 and below timeout_seconds (a publish that cannot complete answers 503 before the function times out)."
  }
  validation {
    condition     = var.webhook.claim_threshold_mb > 0 && var.webhook.claim_threshold_mb < 9
    error_message = "webhook.claim_threshold_mb must be above 0 and below 9 (a Pub/Sub message holds 10 MB)."
  }
}

variable "webhook_secret" {
  description = "Which versions of the webhook secret the functions read, always pinned to a number. version: the current one (null: the generated first version); previous_version: also accepted by the webhook during a rotation; generate_initial: create a random first version (write-only, never stored in state) so the first apply succeeds. Rotation: docs/deploy.md."
  type = object({
    version          = optional(string)
    previous_version = optional(string)
    generate_initial = optional(bool, true)
  })
  default  = {}
  nullable = false
  validation {
    condition     = (var.webhook_secret.version == null || can(regex("^[0-9]+$", coalesce(var.webhook_secret.version, "0")))) && (var.webhook_secret.previous_version == null || can(regex("^[0-9]+$", coalesce(var.webhook_secret.previous_version, "0"))))
    error_message = "webhook_secret.version and previous_version must be version numbers (never \"latest\": instances that start after a new version is added would verify with a secret Modal does not have yet)."
  }
  validation {
    condition     = var.webhook_secret.version != null || var.webhook_secret.generate_initial
    error_message = "webhook_secret.version is required when generate_initial is false (name the version the functions read)."
  }
}

variable "worker" {
  description = "Completion worker sizing and delivery: ack deadline must cover timeout_seconds; failed messages go to the dead-letter topic after max_delivery_attempts; counter_shards: a batch's counter shards, at least its peak completions per second (docs/scaling.md)."
  type = object({
    cpu                   = optional(string, "1")
    memory_mib            = optional(number, 1024)
    concurrency           = optional(number, 16)
    max_instances         = optional(number, 20)
    min_instances         = optional(number, 0)
    timeout_seconds       = optional(number, 120)
    max_delivery_attempts = optional(number, 10)
    ranking_size          = optional(number, 10)
    counter_shards        = optional(number, 16)
  })
  default  = {}
  nullable = false
  validation {
    condition     = var.worker.timeout_seconds >= 10 && var.worker.timeout_seconds <= 540
    error_message = "worker.timeout_seconds must be 10-540 so that the push ack deadline (timeout + 60 s, at most 600 s) covers it."
  }
  validation {
    condition     = var.worker.counter_shards >= 1 && var.worker.counter_shards <= 100
    error_message = "worker.counter_shards must be 1-100."
  }
  validation {
    condition     = var.worker.max_delivery_attempts >= 5 && var.worker.max_delivery_attempts <= 100
    error_message = "worker.max_delivery_attempts must be 5-100 (Pub/Sub's limits)."
  }
}
