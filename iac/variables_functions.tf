# Functions (Lambda), the event source mapping that feeds the chat worker, and the chat rules
# they apply.

variable "lambda_zip_path" {
  description = "Path (relative to iac/) of the zip built by `python -m local.deploy.package build` (or `invoke package`)."
  type        = string
  default     = "../dist/tidings-functions.zip"

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must point to a .zip file."
  }
}

variable "lambda_architecture" {
  description = "Lambda architecture; must match the wheels in the zip (local/deploy/package.py LAMBDA_ARCH, arm64 by default)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "worker_memory_mb" {
  description = "Memory of the chat worker function."
  type        = number
  default     = 512

  validation {
    condition     = var.worker_memory_mb >= 128 && var.worker_memory_mb <= 10240
    error_message = "worker_memory_mb must be 128..10240."
  }
}

variable "worker_timeout_s" {
  description = "Timeout of the chat worker function (Kafka event source mappings allow at most 14 minutes)."
  type        = number
  default     = 60

  validation {
    condition     = var.worker_timeout_s >= 3 && var.worker_timeout_s <= 840
    error_message = "worker_timeout_s must be 3..840."
  }
}

variable "worker_reserved_concurrency" {
  description = "Reserved concurrency of the worker; -1 for none. The ESM never runs more than one invocation per partition, so partitions (x pollers) bounds it anyway."
  type        = number
  default     = -1

  validation {
    condition     = var.worker_reserved_concurrency == -1 || var.worker_reserved_concurrency >= 1
    error_message = "worker_reserved_concurrency must be -1 or positive."
  }
}

variable "http_memory_mb" {
  description = "Memory of the HTTP API function."
  type        = number
  default     = 256

  validation {
    condition     = var.http_memory_mb >= 128 && var.http_memory_mb <= 10240
    error_message = "http_memory_mb must be 128..10240."
  }
}

variable "http_timeout_s" {
  description = "Timeout of the HTTP API function (the HTTP API gives up after 30 s)."
  type        = number
  default     = 10

  validation {
    condition     = var.http_timeout_s >= 1 && var.http_timeout_s <= 29
    error_message = "http_timeout_s must be 1..29."
  }
}

variable "http_produce_timeout_s" {
  description = "How long the HTTP function waits for Kafka to take a change (edit, delete, reaction) before answering 503 (TIDINGS_PRODUCE_TIMEOUT_S). With http_change_wait_s, keep it under http_timeout_s."
  type        = number
  default     = 3

  validation {
    condition     = var.http_produce_timeout_s >= 1 && var.http_produce_timeout_s <= 20
    error_message = "http_produce_timeout_s must be 1..20."
  }
}

variable "http_change_wait_s" {
  description = "How long the HTTP function waits for the chat worker to store a change before answering 202 accepted (TIDINGS_HTTP_CHANGE_WAIT_S)."
  type        = number
  default     = 5

  validation {
    condition     = var.http_change_wait_s >= 0 && var.http_change_wait_s <= 25
    error_message = "http_change_wait_s must be 0..25."
  }
}

variable "http_reserved_concurrency" {
  description = "Reserved concurrency of the HTTP function; -1 for none."
  type        = number
  default     = -1

  validation {
    condition     = var.http_reserved_concurrency == -1 || var.http_reserved_concurrency >= 1
    error_message = "http_reserved_concurrency must be -1 or positive."
  }
}

variable "esm_batch_size" {
  description = "Records per worker invocation (AWS default 100)."
  type        = number
  default     = 100

  validation {
    condition     = var.esm_batch_size >= 1 && var.esm_batch_size <= 10000
    error_message = "esm_batch_size must be 1..10000."
  }
}

variable "esm_batching_window_s" {
  description = "Seconds the ESM may wait to fill a batch. 0 favours chat latency; AWS's 500 ms default cannot be written here (whole seconds) and is lost once set."
  type        = number
  default     = 0

  validation {
    condition     = var.esm_batching_window_s >= 0 && var.esm_batching_window_s <= 300
    error_message = "esm_batching_window_s must be 0..300."
  }
}

variable "esm_starting_position" {
  description = "Where a new consumer group starts. TRIM_HORIZON: nothing produced before the mapping existed is skipped."
  type        = string
  default     = "TRIM_HORIZON"

  validation {
    condition     = contains(["TRIM_HORIZON", "LATEST"], var.esm_starting_position)
    error_message = "esm_starting_position must be TRIM_HORIZON or LATEST."
  }
}

variable "esm_max_retry_attempts" {
  description = "Retries of a failing batch before it goes to the on-failure destination. Bounded on purpose: -1 (infinite) would let a poison record block its partition."
  type        = number
  default     = 3

  validation {
    condition     = var.esm_max_retry_attempts >= 0 && var.esm_max_retry_attempts <= 10
    error_message = "esm_max_retry_attempts must be 0..10 (bounded; Lambda caps it at 10 with a destination anyway)."
  }
}

variable "esm_max_record_age_s" {
  description = "Records older than this are sent to the destination without processing; -1 keeps them (no message is dropped for age)."
  type        = number
  default     = -1

  validation {
    condition     = var.esm_max_record_age_s == -1 || (var.esm_max_record_age_s >= 60 && var.esm_max_record_age_s <= 604800)
    error_message = "esm_max_record_age_s must be -1 or 60..604800."
  }
}

variable "esm_min_pollers" {
  description = "Provisioned-mode minimum event pollers (provisioned mode is needed for the Kafka-topic destination and for bisect/retry controls)."
  type        = number
  default     = 1

  validation {
    condition     = var.esm_min_pollers >= 1 && var.esm_min_pollers <= 200
    error_message = "esm_min_pollers must be 1..200."
  }
}

variable "esm_max_pollers" {
  description = "Provisioned-mode maximum event pollers."
  type        = number
  default     = 2

  validation {
    condition     = var.esm_max_pollers >= 1 && var.esm_max_pollers <= 2000
    error_message = "esm_max_pollers must be 1..2000."
  }
}

variable "esm_on_failure" {
  description = "kafka: failed records go to dlq_topic with their payload (like the local runner). sqs: only metadata (topic, partition, offsets) goes to an SQS queue."
  type        = string
  default     = "kafka"

  validation {
    condition     = contains(["kafka", "sqs"], var.esm_on_failure)
    error_message = "esm_on_failure must be kafka or sqs."
  }
}

variable "edit_window_s" {
  description = "How long after sending a sender may edit a message, in seconds (TIDINGS_EDIT_WINDOW_S)."
  type        = number
  default     = 900

  validation {
    condition     = var.edit_window_s >= 0
    error_message = "edit_window_s must be 0 or more."
  }
}
