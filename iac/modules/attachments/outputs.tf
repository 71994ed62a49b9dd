output "bucket" {
  description = "Name of the attachments bucket (TIDINGS_ATTACHMENTS_BUCKET)."
  value       = aws_s3_bucket.attachments.id
}

output "check_function_name" {
  description = "Name of the attachment check function."
  value       = aws_lambda_function.check.function_name
}
