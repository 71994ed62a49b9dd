# Tables (generated), logs, alarms and deletion protection.

variable "tables" {
  description = "DynamoDB tables. GENERATED into tables.auto.tfvars.json by `python -m local.deploy.package tables` from functions/tables.py (the single source; a test fails when the file is stale). Do not set by hand."
  type = map(object({
    hash_key      = string
    range_key     = optional(string)
    attributes    = list(object({ name = string, type = string }))
    ttl_attribute = optional(string)
    global_secondary_indexes = list(object({
      name            = string
      hash_key        = string
      range_key       = optional(string)
      projection_type = string
    }))
  }))

  validation {
    condition     = length(var.tables) > 0
    error_message = "tables is empty: run python -m local.deploy.package tables."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 30, 90, 365)."
  }
}

variable "alarm_email" {
  description = "Optional e-mail subscribed to the alarm topic (confirm the subscription mail)."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be empty or an e-mail address."
  }
}

variable "consumer_lag_alarm_threshold" {
  description = "Alarm when the worker's consumer group lags this many records (MaxOffsetLag) for 5 minutes."
  type        = number
  default     = 1000

  validation {
    condition     = var.consumer_lag_alarm_threshold >= 0
    error_message = "consumer_lag_alarm_threshold must not be negative."
  }
}

variable "edge_connections_alarm_threshold" {
  description = "Alarm when the NLB carries more than this many connections (ActiveFlowCount): time to raise edge_max_count."
  type        = number
  default     = 20000

  validation {
    condition     = var.edge_connections_alarm_threshold >= 0
    error_message = "edge_connections_alarm_threshold must not be negative."
  }
}

variable "http_5xx_alarm_threshold" {
  description = "Alarm when the HTTP API returns more than this many 5xx in 5 minutes."
  type        = number
  default     = 5

  validation {
    condition     = var.http_5xx_alarm_threshold >= 0
    error_message = "http_5xx_alarm_threshold must not be negative."
  }
}

variable "deletion_protection" {
  description = "Protect the tables and the NLB from deletion (turn off only to destroy a test stack)."
  type        = bool
  default     = true
}
