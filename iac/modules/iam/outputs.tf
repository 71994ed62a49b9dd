output "worker_role_arn" {
  description = "Execution role of the chat worker."
  value       = aws_iam_role.worker.arn
}

output "worker_policy_ready" {
  description = "Changes when the worker's policy is attached (functions and the ESM wait for it)."
  value       = aws_iam_role_policy.worker.id
}

output "notifier_role_arn" {
  description = "Execution role of the push notifier."
  value       = aws_iam_role.notifier.arn
}

output "notifier_policy_ready" {
  description = "Changes when the notifier's policy is attached (its function and mapping wait for it)."
  value       = aws_iam_role_policy.notifier.id
}

output "http_role_arn" {
  description = "Execution role of the HTTP function."
  value       = aws_iam_role.http.arn
}

output "http_policy_ready" {
  description = "Changes when the HTTP function's policy is attached."
  value       = aws_iam_role_policy.http.id
}

output "edge_task_role_arn" {
  description = "Task role of the edges."
  value       = aws_iam_role.edge_task.arn
}

output "edge_execution_role_arn" {
  description = "Execution role of the edges."
  value       = aws_iam_role.edge_execution.arn
}

output "http_role_name" {
  description = "Name of the HTTP function's role (modules/attachments adds its presign rights)."
  value       = aws_iam_role.http.name
}
