output "worker_log_group_name" {
  description = "Log group of the chat worker."
  value       = aws_cloudwatch_log_group.this["worker"].name
}

output "http_log_group_name" {
  description = "Log group of the HTTP function."
  value       = aws_cloudwatch_log_group.this["http"].name
}

output "notifier_log_group_name" {
  description = "Log group of the push notifier."
  value       = aws_cloudwatch_log_group.this["notifier"].name
}

output "edge_log_group_name" {
  description = "Log group of the edges."
  value       = aws_cloudwatch_log_group.this["edge"].name
}

output "msk_log_group_name" {
  description = "Log group of the brokers."
  value       = aws_cloudwatch_log_group.this["msk"].name
}

output "api_log_group_arn" {
  description = "Log group of the HTTP API access logs."
  value       = aws_cloudwatch_log_group.this["api"].arn
}

output "log_group_arns" {
  description = "Log group ARNs keyed by worker, http, edge, notifier."
  value = {
    worker   = aws_cloudwatch_log_group.this["worker"].arn
    http     = aws_cloudwatch_log_group.this["http"].arn
    edge     = aws_cloudwatch_log_group.this["edge"].arn
    notifier = aws_cloudwatch_log_group.this["notifier"].arn
  }
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = aws_sns_topic.alarms.arn
}
