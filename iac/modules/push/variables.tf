variable "name" {
  description = "Resource name prefix."
  type        = string
}

variable "role_arn" {
  description = "Execution role of the notifier (modules/iam)."
  type        = string
}

variable "policy_ready" {
  description = "Id of the role's attached policy: the function and the mapping are created after it."
  type        = string
}

variable "log_group_name" {
  description = "Log group of the notifier (modules/observability)."
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
  description = "KMS key for the environment and the credentials secret."
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
