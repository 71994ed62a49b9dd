output "websocket_url" {
  description = "WebSocket URL of the edges."
  value       = "${local.tls ? "wss" : "ws"}://${aws_lb.this.dns_name}${var.listener_port == (local.tls ? 443 : 80) ? "" : ":${var.listener_port}"}/ws"
}

output "nlb_dns_name" {
  description = "DNS name of the NLB (point your domain's CNAME/alias here)."
  value       = aws_lb.this.dns_name
}

output "nlb_arn_suffix" {
  description = "NLB ARN suffix (CloudWatch dimension)."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn_suffix" {
  description = "Target group ARN suffix (CloudWatch dimension)."
  value       = aws_lb_target_group.edge.arn_suffix
}

output "cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "ECS service name."
  value       = aws_ecs_service.edge.name
}

output "task_definition_arn" {
  description = "Current task definition (roll back by re-applying an older image)."
  value       = aws_ecs_task_definition.edge.arn
}
