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

variable "zip_path" {
  description = "The functions zip (the same one the other functions run)."
  type        = string
}

variable "architecture" {
  description = "Lambda architecture of the zip."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for logs, environment and the credentials secret."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (the push services are reached through the NAT)."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the functions."
  type        = string
}

variable "table_arns" {
  description = "DynamoDB table ARNs keyed by logical name."
  type        = map(string)
}

variable "msk_cluster_arn" {
  description = "MSK cluster ARN."
  type        = string
}

variable "msk_ready" {
  description = "Anything the mapping must wait for (the topics)."
  type        = any
}

variable "chat_topic" {
  description = "Chat topic the notifier reads."
  type        = string
}

variable "consumer_group" {
  description = "The notifier's own consumer group (TIDINGS_PUSH_CONSUMER_GROUP): its lag is never the chat worker's."
  type        = string
}

variable "environment" {
  description = "Environment of the notifier (the common settings plus the push ones)."
  type        = map(string)
}

variable "memory_mb" {
  description = "Notifier memory."
  type        = number
  default     = 512
}

variable "timeout_s" {
  description = "Notifier timeout: a batch may wait for the chat worker and for retries."
  type        = number
  default     = 120
}

variable "batch_size" {
  description = "Records per notifier invocation."
  type        = number
  default     = 100
}

variable "max_record_age_s" {
  description = "Pushes older than this are dropped: a late notification is noise."
  type        = number
  default     = 3600
}

variable "log_retention_days" {
  description = "Retention of the notifier's log group."
  type        = number
  default     = 365
}
