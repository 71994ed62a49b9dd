# ---------------------------------------------------------------------------------------
# Naming and placement
# ---------------------------------------------------------------------------------------

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "name" {
  description = "Project name; prefix of every resource name."
  type        = string
  default     = "tidings"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.name))
    error_message = "name: 2-16 chars, lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (prod, staging, ...); part of every resource name and of the table prefix."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment: 2-10 lowercase letters or digits, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------

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
    condition     = alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "private_subnet_ids must be subnet-... ids."
  }
}

variable "public_subnet_ids" {
  description = "Existing public subnets for the internet-facing NLB, used when create_vpc is false."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.public_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
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

# ---------------------------------------------------------------------------------------
# Kafka (MSK)
# ---------------------------------------------------------------------------------------

variable "msk_mode" {
  description = "provisioned: brokers you size (cheapest at low volume; topics created by Terraform). serverless: no brokers to size, higher base price; topics must be created once by hand (docs/deploy.md)."
  type        = string
  default     = "provisioned"

  validation {
    condition     = contains(["provisioned", "serverless"], var.msk_mode)
    error_message = "msk_mode must be provisioned or serverless."
  }
}

variable "msk_kafka_version" {
  description = "Kafka version of the provisioned cluster (aws_msk_topic needs 3.6.0 or later)."
  type        = string
  default     = "3.9.x"

  validation {
    condition     = can(regex("^(3\\.(6|7|8|9)|4\\.[0-9]+)\\.", var.msk_kafka_version))
    error_message = "msk_kafka_version must be 3.6 or later."
  }
}

variable "msk_broker_instance_type" {
  description = "Broker instance type (provisioned mode)."
  type        = string
  default     = "kafka.t3.small"

  validation {
    condition     = can(regex("^(kafka|express)\\.", var.msk_broker_instance_type))
    error_message = "msk_broker_instance_type must be a kafka.* or express.* type."
  }
}

variable "msk_broker_count" {
  description = "Number of brokers (provisioned mode); a multiple of the number of private subnets. Set by kafka.auto.tfvars.json (generated from functions/kafka_cluster.py)."
  type        = number

  validation {
    condition     = var.msk_broker_count >= 2 && var.msk_broker_count <= 30
    error_message = "msk_broker_count must be 2..30."
  }
}

variable "msk_broker_volume_gb" {
  description = "EBS volume per broker in GiB (provisioned mode)."
  type        = number
  default     = 20

  validation {
    condition     = var.msk_broker_volume_gb >= 1 && var.msk_broker_volume_gb <= 16384
    error_message = "msk_broker_volume_gb must be 1..16384."
  }
}

variable "topic_replication_factor" {
  description = "Replication factor of the chat and dead-letter topics (and the brokers' default). Set by kafka.auto.tfvars.json (generated from functions/kafka_cluster.py)."
  type        = number

  validation {
    condition     = var.topic_replication_factor >= 2 && var.topic_replication_factor <= 3
    error_message = "topic_replication_factor must be 2 or 3."
  }
}

variable "topic_min_insync_replicas" {
  description = "Copies that must have a record before an acks=all produce is answered; one less than the replication factor keeps acknowledged messages through the loss of a broker. Set by kafka.auto.tfvars.json (generated from functions/kafka_cluster.py)."
  type        = number

  validation {
    condition     = var.topic_min_insync_replicas >= 1 && var.topic_min_insync_replicas <= 2
    error_message = "topic_min_insync_replicas must be 1 or 2."
  }
}

variable "topic_unclean_leader_election" {
  description = "Whether a replica that missed acknowledged records may become leader (never, for tidings). Set by kafka.auto.tfvars.json (generated from functions/kafka_cluster.py)."
  type        = bool
}

variable "chat_topic" {
  description = "Kafka topic the edges produce to (TIDINGS_CHAT_TOPIC)."
  type        = string
  default     = "tidings.chat"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,249}$", var.chat_topic))
    error_message = "chat_topic must be a valid Kafka topic name."
  }
}

variable "dlq_topic" {
  description = "Dead-letter topic (TIDINGS_DLQ_TOPIC); the ESM's on-failure destination when esm_on_failure = kafka."
  type        = string
  default     = "tidings.chat.dlq"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,249}$", var.dlq_topic))
    error_message = "dlq_topic must be a valid Kafka topic name."
  }
}

variable "partitions" {
  description = "Partitions of the chat topic (TIDINGS_PARTITIONS). One room is one partition; at most one worker invocation runs per partition at a time."
  type        = number
  default     = 3

  validation {
    condition     = var.partitions >= 1 && var.partitions <= 1000
    error_message = "partitions must be 1..1000."
  }
}

variable "consumer_group" {
  description = "Consumer group of the event source mapping (TIDINGS_CONSUMER_GROUP)."
  type        = string
  default     = "tidings-chat-worker"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,200}$", var.consumer_group))
    error_message = "consumer_group must be 1-200 of A-Z a-z 0-9 . _ -."
  }
}

# ---------------------------------------------------------------------------------------
# Functions (Lambda) and the event source mapping
# ---------------------------------------------------------------------------------------

variable "lambda_zip_path" {
  description = "Path (relative to iac/) of the zip built by `python -m local.deploy.package build` (or `invoke package`)."
  type        = string
  default     = "../dist/tidings-functions.zip"

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must point to a .zip file."
  }
}

variable "lambda_architecture" {
  description = "Lambda architecture; must match the wheels in the zip (local/deploy/package.py LAMBDA_ARCH, arm64 by default)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "worker_memory_mb" {
  description = "Memory of the chat worker function."
  type        = number
  default     = 512

  validation {
    condition     = var.worker_memory_mb >= 128 && var.worker_memory_mb <= 10240
    error_message = "worker_memory_mb must be 128..10240."
  }
}

variable "worker_timeout_s" {
  description = "Timeout of the chat worker function (Kafka event source mappings allow at most 14 minutes)."
  type        = number
  default     = 60

  validation {
    condition     = var.worker_timeout_s >= 3 && var.worker_timeout_s <= 840
    error_message = "worker_timeout_s must be 3..840."
  }
}

variable "worker_reserved_concurrency" {
  description = "Reserved concurrency of the worker; -1 for none. The ESM never runs more than one invocation per partition, so partitions (x pollers) bounds it anyway."
  type        = number
  default     = -1

  validation {
    condition     = var.worker_reserved_concurrency == -1 || var.worker_reserved_concurrency >= 1
    error_message = "worker_reserved_concurrency must be -1 or positive."
  }
}

variable "http_memory_mb" {
  description = "Memory of the HTTP API function."
  type        = number
  default     = 256

  validation {
    condition     = var.http_memory_mb >= 128 && var.http_memory_mb <= 10240
    error_message = "http_memory_mb must be 128..10240."
  }
}

variable "http_timeout_s" {
  description = "Timeout of the HTTP API function (the HTTP API gives up after 30 s)."
  type        = number
  default     = 10

  validation {
    condition     = var.http_timeout_s >= 1 && var.http_timeout_s <= 29
    error_message = "http_timeout_s must be 1..29."
  }
}

variable "http_reserved_concurrency" {
  description = "Reserved concurrency of the HTTP function; -1 for none."
  type        = number
  default     = -1

  validation {
    condition     = var.http_reserved_concurrency == -1 || var.http_reserved_concurrency >= 1
    error_message = "http_reserved_concurrency must be -1 or positive."
  }
}

variable "esm_batch_size" {
  description = "Records per worker invocation (AWS default 100)."
  type        = number
  default     = 100

  validation {
    condition     = var.esm_batch_size >= 1 && var.esm_batch_size <= 10000
    error_message = "esm_batch_size must be 1..10000."
  }
}

variable "esm_batching_window_s" {
  description = "Seconds the ESM may wait to fill a batch. 0 favours chat latency; AWS's 500 ms default cannot be written here (whole seconds) and is lost once set."
  type        = number
  default     = 0

  validation {
    condition     = var.esm_batching_window_s >= 0 && var.esm_batching_window_s <= 300
    error_message = "esm_batching_window_s must be 0..300."
  }
}

variable "esm_starting_position" {
  description = "Where a new consumer group starts. TRIM_HORIZON: nothing produced before the mapping existed is skipped."
  type        = string
  default     = "TRIM_HORIZON"

  validation {
    condition     = contains(["TRIM_HORIZON", "LATEST"], var.esm_starting_position)
    error_message = "esm_starting_position must be TRIM_HORIZON or LATEST."
  }
}

variable "esm_max_retry_attempts" {
  description = "Retries of a failing batch before it goes to the on-failure destination. Bounded on purpose: -1 (infinite) would let a poison record block its partition."
  type        = number
  default     = 3

  validation {
    condition     = var.esm_max_retry_attempts >= 0 && var.esm_max_retry_attempts <= 10
    error_message = "esm_max_retry_attempts must be 0..10 (bounded; Lambda caps it at 10 with a destination anyway)."
  }
}

variable "esm_max_record_age_s" {
  description = "Records older than this are sent to the destination without processing; -1 keeps them (no message is dropped for age)."
  type        = number
  default     = -1

  validation {
    condition     = var.esm_max_record_age_s == -1 || (var.esm_max_record_age_s >= 60 && var.esm_max_record_age_s <= 604800)
    error_message = "esm_max_record_age_s must be -1 or 60..604800."
  }
}

variable "esm_min_pollers" {
  description = "Provisioned-mode minimum event pollers (provisioned mode is needed for the Kafka-topic destination and for bisect/retry controls)."
  type        = number
  default     = 1

  validation {
    condition     = var.esm_min_pollers >= 1 && var.esm_min_pollers <= 200
    error_message = "esm_min_pollers must be 1..200."
  }
}

variable "esm_max_pollers" {
  description = "Provisioned-mode maximum event pollers."
  type        = number
  default     = 2

  validation {
    condition     = var.esm_max_pollers >= 1 && var.esm_max_pollers <= 2000
    error_message = "esm_max_pollers must be 1..2000."
  }
}

variable "esm_on_failure" {
  description = "kafka: failed records go to dlq_topic with their payload (like the local runner). sqs: only metadata (topic, partition, offsets) goes to an SQS queue."
  type        = string
  default     = "kafka"

  validation {
    condition     = contains(["kafka", "sqs"], var.esm_on_failure)
    error_message = "esm_on_failure must be kafka or sqs."
  }
}

# ---------------------------------------------------------------------------------------
# Tokens (API Gateway JWT authorizer, edge handshake)
# ---------------------------------------------------------------------------------------

variable "jwt_issuer" {
  description = "Token issuer (iss). The HTTP API's JWT authorizer fetches {issuer}/.well-known/openid-configuration, so it must be an https URL of an OIDC provider signing with RS256."
  type        = string

  validation {
    condition     = can(regex("^https://", var.jwt_issuer))
    error_message = "jwt_issuer must be an https:// URL (an OIDC issuer)."
  }
}

variable "jwt_audience" {
  description = "Token audience (aud) the edges and the HTTP API accept."
  type        = string
  default     = "tidings"

  validation {
    condition     = length(var.jwt_audience) > 0
    error_message = "jwt_audience must not be empty."
  }
}

variable "jwt_public_key_pem" {
  description = "PEM public key (RS256) the edges and functions verify tokens with (TIDINGS_JWT_PUBLIC_KEY); the issuer's current signing key."
  type        = string

  validation {
    condition     = can(regex("-----BEGIN (RSA )?PUBLIC KEY-----", var.jwt_public_key_pem))
    error_message = "jwt_public_key_pem must be a PEM public key."
  }
}

# ---------------------------------------------------------------------------------------
# Edges (ECS Fargate behind an NLB)
# ---------------------------------------------------------------------------------------

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

# ---------------------------------------------------------------------------------------
# HTTP API
# ---------------------------------------------------------------------------------------

variable "http_routes" {
  description = "Route keys sent to the HTTP function, all behind the JWT authorizer: functions/http/api.py ROUTES (a test keeps them equal). Other paths get API Gateway's 404 without invoking the function."
  type        = list(string)
  default = [
    "POST /rooms",
    "GET /rooms",
    "GET /rooms/{roomId}",
    "POST /rooms/{roomId}/members",
    "DELETE /rooms/{roomId}/members/{userId}",
    "GET /rooms/{roomId}/messages",
    "PUT /rooms/{roomId}/read",
    "GET /rooms/{roomId}/read",
    "GET /rooms/{roomId}/presence",
    "GET /me",
    "PUT /devices",
    "GET /devices",
    "DELETE /devices/{deviceId}",
    "PUT /rooms/{roomId}/mute",
    "GET /push/config",
    "POST /rooms/{roomId}/attachments",
    "GET /rooms/{roomId}/attachments/{attId}",
  ]

  validation {
    condition     = length(var.http_routes) > 0 && alltrue([for r in var.http_routes : can(regex("^(ANY|GET|POST|PUT|PATCH|DELETE) /", r))])
    error_message = "http_routes must be route keys like \"GET /rooms\"."
  }
}

variable "api_throttle_rate" {
  description = "Steady-state requests per second of the HTTP API stage."
  type        = number
  default     = 100

  validation {
    condition     = var.api_throttle_rate > 0
    error_message = "api_throttle_rate must be positive."
  }
}

variable "api_throttle_burst" {
  description = "Burst requests of the HTTP API stage."
  type        = number
  default     = 200

  validation {
    condition     = var.api_throttle_burst > 0
    error_message = "api_throttle_burst must be positive."
  }
}

# ---------------------------------------------------------------------------------------
# Tables, observability, safety
# ---------------------------------------------------------------------------------------

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

# --- push notifications (modules/push) ----------------------------------------------------

variable "push_consumer_group" {
  description = "The notifier's own consumer group on the chat topic (TIDINGS_PUSH_CONSUMER_GROUP)."
  type        = string
  default     = "tidings-notifier"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,200}$", var.push_consumer_group))
    error_message = "push_consumer_group must be 1..200 of [A-Za-z0-9._-]."
  }
}

variable "edit_window_s" {
  description = "How long after sending a sender may edit a message, in seconds (TIDINGS_EDIT_WINDOW_S)."
  type        = number
  default     = 900

  validation {
    condition     = var.edit_window_s >= 0
    error_message = "edit_window_s must be 0 or more."
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
