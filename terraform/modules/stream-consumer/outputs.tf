output "function_name" {
  description = "Name of the stream consumer function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the stream consumer function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping: `aws lambda update-event-source-mapping --uuid UUID --enabled` turns the trigger on without Terraform."
  value       = aws_lambda_event_source_mapping.stream.uuid
}

output "failure_queue_url" {
  description = "URL of the SQS on-failure queue (records of batches given up on)."
  value       = aws_sqs_queue.failures.url
}

output "failure_queue_arn" {
  description = "ARN of the SQS on-failure queue."
  value       = aws_sqs_queue.failures.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.this.name
}

output "alarm_names" {
  description = "Names of the lag, error and failure-queue alarms."
  value = [
    aws_cloudwatch_metric_alarm.iterator_age.alarm_name,
    aws_cloudwatch_metric_alarm.errors.alarm_name,
    aws_cloudwatch_metric_alarm.failure_queue.alarm_name,
  ]
}
