# Network: a created VPC, or an existing one and its subnets; who may reach the NLB.

variable "create_vpc" {
  description = "true: create a VPC with public (NLB, NAT) and private (edges, Lambda, MSK) subnets. false: use vpc_id and the subnet ids below."
  type        = bool
  default     = true
}

variable "vpc_cidr" {
  description = "CIDR of the VPC created when create_vpc is true."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR of /20 or larger."
  }
}

variable "az_count" {
  description = "Availability zones to spread subnets over when create_vpc is true, one MSK broker in each. Set by kafka.auto.tfvars.json (generated from functions/kafka_cluster.py)."
  type        = number

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper) instead of one per AZ (survives an AZ outage)."
  type        = bool
  default     = true
}

variable "vpc_id" {
  description = "Existing VPC id, used when create_vpc is false."
  type        = string
  default     = ""

  validation {
    condition     = var.vpc_id == "" || can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be empty or a vpc-... id."
  }
}

variable "private_subnet_ids" {
  description = "Existing private subnets (at least 2 AZs, with a route to a NAT gateway), used when create_vpc is false."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.private_subnet_ids : can(regex(local.subnet_id_pattern, s))])
    error_message = "private_subnet_ids must be subnet-... ids."
  }
}

variable "public_subnet_ids" {
  description = "Existing public subnets for the internet-facing NLB, used when create_vpc is false."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.public_subnet_ids : can(regex(local.subnet_id_pattern, s))])
    error_message = "public_subnet_ids must be subnet-... ids."
  }
}

variable "client_cidrs" {
  description = "CIDRs allowed to open WebSockets on the NLB listener (the public internet by default)."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.client_cidrs) > 0 && alltrue([for c in var.client_cidrs : can(cidrhost(c, 0))])
    error_message = "client_cidrs must be a non-empty list of IPv4 CIDRs."
  }
}
