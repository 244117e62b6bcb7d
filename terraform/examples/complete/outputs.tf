output "export_command" {
  description = "Step 3 of docs/runbook.md: start the export (prints the s3:// URI for the backfill)."
  value       = module.export_bucket.export_command
}

output "exporter_policy_json" {
  description = "IAM policy for the operator who runs `ddb2pg export`."
  value       = module.export_bucket.exporter_policy_json
}

output "backfill_reader_policy_json" {
  description = "IAM policy for a host that runs `ddb2pg backfill` outside the backfill task."
  value       = module.export_bucket.backfill_reader_policy_json
}

output "stream_function_name" {
  description = "The stream consumer function."
  value       = module.stream_consumer.function_name
}

output "stream_event_source_mapping_uuid" {
  description = "UUID of the stream trigger (aws lambda update-event-source-mapping --uuid ... --enabled / --no-enabled)."
  value       = module.stream_consumer.event_source_mapping_uuid
}

output "failure_queue_url" {
  description = "The stream consumer's on-failure queue (docs/runbook.md, replaying the failure queue)."
  value       = module.stream_consumer.failure_queue_url
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = aws_sns_topic.alarms.arn
}

output "backfill_run_task_command" {
  description = "Starts the backfill tasks (null until backfill_image and backfill_export_uri are set)."
  value       = one(module.backfill_task[*].run_task_command)
}
