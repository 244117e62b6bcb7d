output "task_definition_arn" {
  description = "ARN (with revision) of the backfill task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "cluster_arn" {
  description = "ECS cluster the tasks run in."
  value       = local.cluster_arn
}

output "log_group_name" {
  description = "CloudWatch log group of the backfill tasks."
  value       = aws_cloudwatch_log_group.this.name
}

output "task_role_arn" {
  description = "Role the backfill runs with (reads the export)."
  value       = aws_iam_role.task.arn
}

output "run_task_command" {
  description = "aws CLI command that starts task_count backfill tasks sharing the export."
  value = join(" ", [
    "aws ecs run-task",
    "--cluster ${local.cluster_arn}",
    "--task-definition ${aws_ecs_task_definition.this.family}:${aws_ecs_task_definition.this.revision}",
    "--launch-type FARGATE",
    "--count ${var.task_count}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", var.subnet_ids)}],securityGroups=[${join(",", var.security_group_ids)}],assignPublicIp=DISABLED}'",
  ])
}
