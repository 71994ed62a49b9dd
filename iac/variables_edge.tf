# Edges: ECS Fargate tasks behind an NLB.

variable "edge_image" {
  description = "Container image of the edge (built from websocket_edge/docker/python.Dockerfile), pinned by tag or digest."
  type        = string

  validation {
    condition     = length(var.edge_image) > 0 && !endswith(var.edge_image, ":latest")
    error_message = "edge_image must be set and not :latest (pin a tag or digest so rollbacks are exact)."
  }
}

variable "edge_cpu_architecture" {
  description = "CPU architecture of the edge image."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.edge_cpu_architecture)
    error_message = "edge_cpu_architecture must be X86_64 or ARM64."
  }
}

variable "edge_cpu" {
  description = "Fargate CPU units per edge task (one gevent worker uses one core at most)."
  type        = number
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.edge_cpu)
    error_message = "edge_cpu must be 256, 512, 1024, 2048 or 4096."
  }
}

variable "edge_memory_mb" {
  description = "Fargate memory per edge task (MiB)."
  type        = number
  default     = 1024

  validation {
    condition     = var.edge_memory_mb >= 512 && var.edge_memory_mb <= 30720
    error_message = "edge_memory_mb must be 512..30720."
  }
}

variable "edge_min_count" {
  description = "Minimum edge tasks (2+ so one AZ or one deploy never takes every socket down)."
  type        = number
  default     = 2

  validation {
    condition     = var.edge_min_count >= 1 && var.edge_min_count <= 100
    error_message = "edge_min_count must be 1..100."
  }
}

variable "edge_max_count" {
  description = "Maximum edge tasks for autoscaling."
  type        = number
  default     = 10

  validation {
    condition     = var.edge_max_count >= 1 && var.edge_max_count <= 500
    error_message = "edge_max_count must be 1..500."
  }
}

variable "edge_idle_timeout_s" {
  description = "Edge idle timeout (TIDINGS_IDLE_TIMEOUT_S). With a TLS listener it must stay under the NLB's fixed 350 s so the edge, not the NLB, closes idle sockets (cleanly, with a close frame)."
  type        = number
  default     = 300

  validation {
    condition     = var.edge_idle_timeout_s >= 30 && var.edge_idle_timeout_s <= 5900
    error_message = "edge_idle_timeout_s must be 30..5900."
  }
}

variable "edge_heartbeat_ms" {
  description = "Heart-beat interval the edge offers (TIDINGS_HEARTBEAT_MS); keeps sockets busier than any idle timeout."
  type        = number
  default     = 10000

  validation {
    condition     = var.edge_heartbeat_ms >= 1000 && var.edge_heartbeat_ms <= 120000
    error_message = "edge_heartbeat_ms must be 1000..120000."
  }
}

variable "allowed_origins" {
  description = "Browser origins allowed to open WebSockets and call the HTTP API (TIDINGS_ALLOWED_ORIGINS, CORS)."
  type        = list(string)

  validation {
    condition     = length(var.allowed_origins) > 0 && alltrue([for o in var.allowed_origins : can(regex("^https?://[^/*]+$", o))])
    error_message = "allowed_origins must be explicit origins like https://chat.example.com (no wildcard, no path)."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for the NLB's TLS listener (wss:// on 443). Empty: a plain TCP listener on 80 (ws://), for tests only."
  type        = string
  default     = ""

  validation {
    condition     = var.certificate_arn == "" || can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be empty or an ACM certificate ARN."
  }
}
