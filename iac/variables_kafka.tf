# Kafka (MSK): the cluster, the replication the contract sets (kafka.auto.tfvars.json), topics
# and the worker's consumer group.

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
    condition     = can(regex(local.kafka_topic_name_pattern, var.chat_topic))
    error_message = "chat_topic must be a valid Kafka topic name."
  }
}

variable "dlq_topic" {
  description = "Dead-letter topic (TIDINGS_DLQ_TOPIC); the ESM's on-failure destination when esm_on_failure = kafka."
  type        = string
  default     = "tidings.chat.dlq"

  validation {
    condition     = can(regex(local.kafka_topic_name_pattern, var.dlq_topic))
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
    condition     = can(regex(local.consumer_group_name_pattern, var.consumer_group))
    error_message = "consumer_group must be 1-200 of A-Z a-z 0-9 . _ -."
  }
}
