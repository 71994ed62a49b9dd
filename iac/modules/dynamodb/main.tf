# Tables from functions/tables.py (via tables.auto.tfvars.json): on-demand, point-in-time
# recovery, TTL where the definition has one, GSIs, encrypted with the deployment's key.

variable "table_prefix" {
  description = "Prefix of every table name (TIDINGS_TABLE_PREFIX)."
  type        = string
}

variable "tables" {
  description = "Table definitions keyed by logical name (generated from functions/tables.py)."
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
}

variable "kms_key_arn" {
  description = "KMS key for server-side encryption."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse DeleteTable."
  type        = bool
}

resource "aws_dynamodb_table" "this" {
  for_each = var.tables

  name                        = "${var.table_prefix}${each.key}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = each.value.hash_key
  range_key                   = each.value.range_key
  deletion_protection_enabled = var.deletion_protection

  dynamic "attribute" {
    for_each = each.value.attributes
    content {
      name = attribute.value.name
      type = attribute.value.type
    }
  }

  dynamic "global_secondary_index" {
    for_each = each.value.global_secondary_indexes
    content {
      name            = global_secondary_index.value.name
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = global_secondary_index.value.projection_type
    }
  }

  dynamic "ttl" {
    for_each = each.value.ttl_attribute == null ? [] : [each.value.ttl_attribute]
    content {
      attribute_name = ttl.value
      enabled        = true
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = { Logical = each.key }
}

output "table_arns" {
  description = "Table ARNs keyed by logical name."
  value       = { for k, t in aws_dynamodb_table.this : k => t.arn }
}

output "table_names" {
  description = "Table names keyed by logical name."
  value       = { for k, t in aws_dynamodb_table.this : k => t.name }
}
