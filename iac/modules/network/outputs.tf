output "vpc_id" {
  description = "VPC id."
  value       = local.vpc_id
}

output "vpc_cidr" {
  description = "VPC CIDR."
  value       = local.vpc_cidr
}

output "private_subnet_ids" {
  description = "Private subnets (edges, functions, brokers)."
  value       = local.private_subnet_ids
}

output "public_subnet_ids" {
  description = "Public subnets (NLB)."
  value       = local.public_subnet_ids
}

output "nlb_security_group_id" {
  description = "Security group of the NLB."
  value       = aws_security_group.nlb.id
}

output "edge_security_group_id" {
  description = "Security group of the edge tasks."
  value       = aws_security_group.edge.id
}

output "functions_security_group_id" {
  description = "Security group of the Lambda functions."
  value       = aws_security_group.functions.id
}

output "msk_security_group_id" {
  description = "Security group of the brokers."
  value       = aws_security_group.msk.id
}
