variable "name" {
  description = "Resource name prefix (also the cluster name)."
  type        = string
}

variable "mode" {
  description = "provisioned or serverless."
  type        = string
}

variable "kafka_version" {
  description = "Kafka version (provisioned)."
  type        = string
}

variable "broker_instance_type" {
  description = "Broker instance type (provisioned)."
  type        = string
}

variable "broker_count" {
  description = "Number of brokers (provisioned)."
  type        = number
}

variable "broker_volume_gb" {
  description = "EBS GiB per broker (provisioned)."
  type        = number
}

variable "subnet_ids" {
  description = "Private subnets of the brokers (one per AZ)."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the brokers."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for encryption at rest (provisioned; serverless always encrypts with an AWS key)."
  type        = string
}

variable "log_group_name" {
  description = "CloudWatch log group for broker logs (provisioned)."
  type        = string
}

variable "chat_topic" {
  description = "Chat topic name."
  type        = string
}

variable "dlq_topic" {
  description = "Dead-letter topic name."
  type        = string
}

variable "partitions" {
  description = "Partitions of the chat topic (the dead-letter topic has one)."
  type        = number
}

variable "topic_replication_factor" {
  description = "Replication factor of both topics."
  type        = number
}

variable "min_insync_replicas" {
  description = "min.insync.replicas of both topics and the brokers' default."
  type        = number
}

variable "unclean_leader_election" {
  description = "unclean.leader.election.enable of the brokers."
  type        = bool
}
