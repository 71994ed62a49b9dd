variable "name" {
  description = "Resource name prefix."
  type        = string
}

variable "region" {
  description = "AWS region (the check's network interfaces)."
  type        = string
}

variable "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov)."
  type        = string
}

variable "account_id" {
  description = "AWS account id (the only account whose bucket may invoke the check)."
  type        = string
}

variable "kms_key_arn" {
  description = "The deployment's KMS key: bucket encryption (SSE-KMS), environment, logs, dead letters."
  type        = string
}

variable "allowed_origins" {
  description = "Web client origins allowed to PUT and GET photos with presigned URLs (bucket CORS)."
  type        = list(string)
}

variable "retention_days" {
  description = "Days a photo is kept (0: as long as the bucket)."
  type        = number
}

variable "http_role_name" {
  description = "Name of the HTTP function's role: it presigns, so it holds the rights the URLs use."
  type        = string
}

variable "attachments_table_arn" {
  description = "ARN of the attachments table."
  type        = string
}

variable "rooms_table_arn" {
  description = "ARN of the rooms table (the room's subscribers, for the attachment event)."
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

variable "subnet_ids" {
  description = "Private subnets (the check posts to the edges' delivery port)."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the functions."
  type        = string
}

variable "environment" {
  description = "Environment of the check (the common settings plus the delivery secret)."
  type        = map(string)
}

variable "log_retention_days" {
  description = "Retention of the check's log group."
  type        = number
}

variable "memory_mb" {
  description = "Memory of the check (a 10 MiB photo decoded by Pillow)."
  type        = number
  default     = 1024
}

variable "timeout_s" {
  description = "Timeout of the check."
  type        = number
  default     = 30
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the check: a burst of uploads queues instead of starving the chat."
  type        = number
  default     = 20
}
