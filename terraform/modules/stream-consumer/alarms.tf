# Three alarms, each with its meaning and response in docs/runbook.md
# ("Alarms"). Missing data is not breaching: a disabled trigger or an idle
# table produces no datapoints, and that is not an incident.

# Replication lag: how old the newest record of the last batch was when it
# was processed. Rising means the function falls behind (or keeps retrying);
# past 24 hours the stream drops records this consumer has not read.
resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  alarm_name          = "${var.name}-replication-lag"
  alarm_description   = "ddb2pg stream consumer ${var.name}: replication lag above ${var.iterator_age_alarm_seconds}s for 5 minutes. See docs/runbook.md#alarms."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.iterator_age_alarm_seconds * 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_sns_topic_arn]
  ok_actions          = [var.alarm_sns_topic_arn]
  tags                = var.tags
}

# Function errors: the function fails an invocation only for what retrying
# the same records cannot fix by waiting (configuration, permissions, a
# mapping the database schema refuses, an undecodable event). Transient
# database trouble is retried through batchItemFailures and shows as lag
# instead; rejected records are recorded in PostgreSQL and count as neither.
# Any error is worth a look.
resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-errors"
  alarm_description   = "ddb2pg stream consumer ${var.name}: invocations failing. See docs/runbook.md#alarms."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_sns_topic_arn]
  ok_actions          = [var.alarm_sns_topic_arn]
  tags                = var.tags
}

# Records given up on: every message is a stretch of a shard that did not
# reach PostgreSQL. Replay it while the stream still holds it.
resource "aws_cloudwatch_metric_alarm" "failure_queue" {
  alarm_name          = "${var.name}-failure-queue-not-empty"
  alarm_description   = "ddb2pg stream consumer ${var.name}: stream records were given up on and sit in ${aws_sqs_queue.failures.name}. Replay them within 24h of their write. See docs/runbook.md#replaying-the-failure-queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.failures.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_sns_topic_arn]
  ok_actions          = [var.alarm_sns_topic_arn]
  tags                = var.tags
}
