variable "name" {
  description = "Resource name prefix."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
}

variable "account_id" {
  description = "AWS account id."
  type        = string
}

variable "partition" {
  description = "AWS partition."
  type        = string
}

variable "table_arns" {
  description = "DynamoDB table ARNs keyed by logical name."
  type        = map(string)
}

variable "table_access" {
  description = "Per principal (worker, http, edge, notifier): logical table => read | update | readwrite."
  type        = map(map(string))

  validation {
    condition     = alltrue(flatten([for p, t in var.table_access : [for name, level in t : contains(["read", "update", "readwrite"], level)]]))
    error_message = "table_access levels must be read, update or readwrite."
  }
}

variable "msk_cluster_arn" {
  description = "MSK cluster ARN (topic and group ARNs are derived from it)."
  type        = string
}

variable "chat_topic" {
  description = "Chat topic."
  type        = string
}

variable "push_consumer_group" {
  description = "Consumer group of the notifier's event source mapping."
  type        = string
}

variable "push_credentials_secret_arn" {
  description = "Secrets Manager ARN of the push credentials (the notifier reads it)."
  type        = string
}

variable "dlq_topic" {
  description = "Dead-letter topic."
  type        = string
}

variable "consumer_group" {
  description = "Consumer group of the event source mapping."
  type        = string
}

variable "esm_on_failure" {
  description = "kafka or sqs: which destination the worker role may write to."
  type        = string
}

variable "dlq_queue_arn" {
  description = "SQS dead-letter queue ARN (esm_on_failure = sqs), else null."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "The deployment's KMS key."
  type        = string
}

variable "delivery_secret_arn" {
  description = "Secrets Manager ARN of the delivery secret (edge execution role reads it)."
  type        = string
}

variable "edge_image" {
  description = "Edge image; when it is in ECR, the execution role may pull from that repository only."
  type        = string
}

variable "log_group_arns" {
  description = "Log group ARNs keyed by worker, http, edge, notifier."
  type        = map(string)
}
