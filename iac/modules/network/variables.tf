variable "name" {
  description = "Resource name prefix."
  type        = string
}

variable "region" {
  description = "AWS region (gateway endpoint service names)."
  type        = string
}

variable "create_vpc" {
  description = "Create the VPC and subnets (true) or use the existing ids (false)."
  type        = bool
}

variable "vpc_cidr" {
  description = "CIDR of the created VPC."
  type        = string
}

variable "az_count" {
  description = "Availability zones of the created subnets."
  type        = number
}

variable "single_nat_gateway" {
  description = "One NAT gateway shared by all AZs."
  type        = bool
}

variable "vpc_id" {
  description = "Existing VPC (create_vpc = false)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Existing private subnets (create_vpc = false)."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Existing public subnets (create_vpc = false)."
  type        = list(string)
}

variable "client_cidrs" {
  description = "CIDRs allowed to reach the NLB listener."
  type        = list(string)
}

variable "listener_port" {
  description = "NLB listener port (443 TLS or 80 TCP)."
  type        = number
}

variable "edge_public_port" {
  description = "Edge public port (/ws, /healthz, /metrics)."
  type        = number
}

variable "edge_internal_port" {
  description = "Edge delivery API port (/@connections): reachable only from the functions' security group."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key for the flow log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the flow log group."
  type        = number
}
