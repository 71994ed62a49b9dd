# Push notifications (modules/push).

variable "push_consumer_group" {
  description = "The notifier's own consumer group on the chat topic (TIDINGS_PUSH_CONSUMER_GROUP)."
  type        = string
  default     = "tidings-notifier"

  validation {
    condition     = can(regex(local.consumer_group_name_pattern, var.push_consumer_group))
    error_message = "push_consumer_group must be 1..200 of [A-Za-z0-9._-]."
  }
}

variable "push_preview" {
  description = "Whether pushes carry the message text (false: \"New message\" only)."
  type        = bool
  default     = true
}

variable "push_vapid_public_key" {
  description = "The VAPID public key (base64url) browsers subscribe with; its private half is in the push secret."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([A-Za-z0-9_-]{86,88})?$", var.push_vapid_public_key))
    error_message = "push_vapid_public_key must be empty or a base64url uncompressed P-256 key."
  }
}
