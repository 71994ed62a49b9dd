# Photo attachments (modules/attachments): the bucket's limits.

variable "attachment_max_bytes" {
  description = "Largest photo a member may upload (TIDINGS_ATTACHMENT_MAX_BYTES); presigned uploads sign the exact size."
  type        = number
  default     = 10485760

  validation {
    condition     = var.attachment_max_bytes >= 1 && var.attachment_max_bytes <= 5368709120
    error_message = "attachment_max_bytes must be 1 byte .. 5 GiB (one S3 PUT)."
  }
}

variable "attachment_retention_days" {
  description = "Days a photo is kept in the attachments bucket (0: as long as the bucket)."
  type        = number
  default     = 0

  validation {
    condition     = var.attachment_retention_days >= 0
    error_message = "attachment_retention_days must be 0 (keep) or more."
  }
}
