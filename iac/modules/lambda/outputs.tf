output "worker_function_name" {
  description = "Name of the chat worker."
  value       = aws_lambda_function.function["worker"].function_name
}

output "http_function_name" {
  description = "Name of the HTTP function."
  value       = aws_lambda_function.function["http"].function_name
}

output "http_invoke_arn" {
  description = "Invoke ARN of the HTTP function (API Gateway integration)."
  value       = aws_lambda_function.function["http"].invoke_arn
}

output "esm_uuid" {
  description = "UUID of the Kafka event source mapping (CloudWatch dimension)."
  value       = aws_lambda_event_source_mapping.chat.uuid
}

output "dlq_queue_arn" {
  description = "SQS dead-letter queue ARN (esm_on_failure = sqs), else null."
  value       = try(aws_sqs_queue.dlq[0].arn, null)
}

output "dlq_queue_name" {
  description = "SQS dead-letter queue name (esm_on_failure = sqs), else null."
  value       = try(aws_sqs_queue.dlq[0].name, null)
}
