variable "name" {
  description = "Resource name prefix."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for log groups and the alarm topic."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of every log group."
  type        = number
}

variable "alarm_email" {
  description = "Optional e-mail subscribed to the alarm topic."
  type        = string
}

variable "worker_function_name" {
  description = "Chat worker function (alarm dimension)."
  type        = string
}

variable "http_function_name" {
  description = "HTTP function (alarm dimension)."
  type        = string
}

variable "esm_uuid" {
  description = "Event source mapping UUID (alarm dimension)."
  type        = string
}

variable "esm_on_failure" {
  description = "kafka or sqs."
  type        = string
}

variable "dlq_queue_name" {
  description = "SQS dead-letter queue name (sqs mode), else null."
  type        = string
  default     = null
}

variable "msk_cluster_name" {
  description = "MSK cluster name (alarm dimension)."
  type        = string
}

variable "chat_topic" {
  description = "Chat topic (alarm dimension)."
  type        = string
}

variable "consumer_group" {
  description = "Consumer group of the worker (alarm dimension)."
  type        = string
}

variable "api_id" {
  description = "HTTP API id (alarm dimension)."
  type        = string
}

variable "nlb_arn_suffix" {
  description = "NLB ARN suffix (alarm dimension)."
  type        = string
}

variable "target_group_suffix" {
  description = "Target group ARN suffix (alarm dimension)."
  type        = string
}

variable "edge_min_count" {
  description = "Minimum edges; fewer healthy ones raise an alarm."
  type        = number
}

variable "consumer_lag_threshold" {
  description = "MaxOffsetLag alarm threshold (records)."
  type        = number
}

variable "edge_connections_threshold" {
  description = "ActiveFlowCount alarm threshold."
  type        = number
}

variable "http_5xx_threshold" {
  description = "HTTP API 5xx per 5 minutes alarm threshold."
  type        = number
}
