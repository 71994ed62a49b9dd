variable "name" {
  description = "Resource name prefix."
  type        = string
}

variable "zip_path" {
  description = "Deployment zip (python -m local.deploy.package build)."
  type        = string
}

variable "architecture" {
  description = "arm64 or x86_64; must match the zip's wheels."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for environment variables and the SQS dead-letter queue."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the functions run in (the worker must reach the edges' delivery port)."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the functions."
  type        = string
}

variable "worker_role_arn" {
  description = "Execution role of the worker."
  type        = string
}

variable "http_role_arn" {
  description = "Execution role of the HTTP function."
  type        = string
}

variable "policies_ready" {
  description = "Ids of the attached role policies: functions and the mapping are created after them (AWS checks the role's permissions on create)."
  type        = list(string)
}

variable "worker_log_group" {
  description = "Log group of the worker."
  type        = string
}

variable "http_log_group" {
  description = "Log group of the HTTP function."
  type        = string
}

variable "worker_environment" {
  description = "Environment of the worker (TIDINGS_* names)."
  type        = map(string)
}

variable "http_environment" {
  description = "Environment of the HTTP function (TIDINGS_* names)."
  type        = map(string)
}

variable "worker_memory_mb" {
  description = "Worker memory."
  type        = number
}

variable "worker_timeout_s" {
  description = "Worker timeout."
  type        = number
}

variable "worker_reserved_concurrency" {
  description = "Worker reserved concurrency (-1: none)."
  type        = number
}

variable "http_memory_mb" {
  description = "HTTP function memory."
  type        = number
}

variable "http_timeout_s" {
  description = "HTTP function timeout."
  type        = number
}

variable "http_reserved_concurrency" {
  description = "HTTP function reserved concurrency (-1: none)."
  type        = number
}

variable "msk_cluster_arn" {
  description = "Cluster the mapping reads."
  type        = string
}

variable "msk_ready" {
  description = "Changes once the topics exist."
  type        = string
}

variable "chat_topic" {
  description = "Topic the mapping reads."
  type        = string
}

variable "dlq_topic" {
  description = "Dead-letter topic (esm_on_failure = kafka)."
  type        = string
}

variable "consumer_group" {
  description = "Consumer group id of the mapping."
  type        = string
}

variable "esm_batch_size" {
  description = "Records per invocation."
  type        = number
}

variable "esm_batching_window_s" {
  description = "Batching window in seconds."
  type        = number
}

variable "esm_starting_position" {
  description = "TRIM_HORIZON or LATEST."
  type        = string
}

variable "esm_max_retry_attempts" {
  description = "Bounded retries before the destination."
  type        = number
}

variable "esm_max_record_age_s" {
  description = "Maximum record age (-1: none)."
  type        = number
}

variable "esm_min_pollers" {
  description = "Provisioned-mode minimum pollers."
  type        = number
}

variable "esm_max_pollers" {
  description = "Provisioned-mode maximum pollers."
  type        = number
}

variable "esm_on_failure" {
  description = "kafka (dead-letter topic) or sqs (metadata queue)."
  type        = string
}
