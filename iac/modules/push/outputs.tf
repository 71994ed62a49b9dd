output "credentials_secret_arn" {
  description = "The secret to put the push credentials JSON in (functions/push/credentials.py)."
  value       = aws_secretsmanager_secret.credentials.arn
}

output "function_name" {
  description = "The notifier function."
  value       = aws_lambda_function.notifier.function_name
}
