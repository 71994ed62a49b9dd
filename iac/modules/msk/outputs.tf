output "cluster_arn" {
  description = "ARN of the cluster."
  value       = local.cluster_arn
}

output "cluster_name" {
  description = "Name of the cluster (CloudWatch dimension \"Cluster Name\")."
  value       = local.cluster_name
}

output "bootstrap_brokers_iam" {
  description = "Bootstrap brokers for SASL/IAM over TLS (TIDINGS_KAFKA_BOOTSTRAP)."
  value       = local.bootstrap
}

output "topics_ready" {
  description = "Changes once the topics exist (the event source mapping waits for it)."
  value       = join(",", concat(aws_msk_topic.chat[*].arn, aws_msk_topic.dlq[*].arn, [local.cluster_arn]))
}
