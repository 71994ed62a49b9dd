output "websocket_url" {
  description = "WebSocket URL clients connect to (/ws). Put your own domain (CNAME to nlb_dns_name) in front for a certificate that matches."
  value       = module.ecs.websocket_url
}

output "http_api_url" {
  description = "Base URL of the HTTP API (rooms, history, read marks)."
  value       = module.api.api_url
}

output "nlb_dns_name" {
  description = "DNS name of the edges' NLB."
  value       = module.ecs.nlb_dns_name
}

output "table_prefix" {
  description = "TIDINGS_TABLE_PREFIX of this deployment."
  value       = local.table_prefix
}

output "msk_cluster_arn" {
  description = "MSK cluster."
  value       = module.msk.cluster_arn
}

output "kafka_bootstrap_brokers" {
  description = "Bootstrap brokers (SASL/IAM, TLS; reachable inside the VPC only)."
  value       = module.msk.bootstrap_brokers_iam
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = module.observability.alarm_topic_arn
}

output "ecs_cluster_name" {
  description = "ECS cluster of the edges."
  value       = module.ecs.cluster_name
}

output "edge_task_definition_arn" {
  description = "Task definition the edge service runs."
  value       = module.ecs.task_definition_arn
}

output "push_credentials_secret_arn" {
  description = "Put the push credentials JSON here (FCM service account, APNs key, VAPID key)."
  value       = module.push.credentials_secret_arn
}
