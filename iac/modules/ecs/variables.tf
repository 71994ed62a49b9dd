variable "name" {
  description = "Resource name prefix."
  type        = string
}

variable "region" {
  description = "AWS region (awslogs driver)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the target group."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets of the edge tasks."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Subnets of the internet-facing NLB."
  type        = list(string)
}

variable "edge_security_group_id" {
  description = "Security group of the edge tasks."
  type        = string
}

variable "nlb_security_group_id" {
  description = "Security group of the NLB."
  type        = string
}

variable "image" {
  description = "Edge image."
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64."
  type        = string
}

variable "cpu" {
  description = "Task CPU units."
  type        = number
}

variable "memory_mb" {
  description = "Task memory."
  type        = number
}

variable "min_count" {
  description = "Minimum tasks."
  type        = number
}

variable "max_count" {
  description = "Maximum tasks."
  type        = number
}

variable "public_port" {
  description = "Edge public port."
  type        = number
}

variable "internal_port" {
  description = "Edge delivery API port."
  type        = number
}

variable "listener_port" {
  description = "NLB listener port."
  type        = number
}

variable "certificate_arn" {
  description = "ACM certificate: TLS listener; empty: TCP listener."
  type        = string
}

variable "idle_timeout_s" {
  description = "Edge idle timeout (TIDINGS_IDLE_TIMEOUT_S)."
  type        = number
}

variable "environment" {
  description = "Container environment (TIDINGS_* names)."
  type        = map(string)
}

variable "secrets" {
  description = "Container secrets: env name => Secrets Manager ARN."
  type        = map(string)
}

variable "task_role_arn" {
  description = "Task role."
  type        = string
}

variable "execution_role_arn" {
  description = "Execution role."
  type        = string
}

variable "log_group_name" {
  description = "Log group of the edge containers."
  type        = string
}

variable "deletion_protection" {
  description = "NLB deletion protection."
  type        = bool
}
