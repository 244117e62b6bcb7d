variable "name" {
  type        = string
  description = "Name of the Lambda function; also the prefix of the role, failure queue, log group and alarms."

  validation {
    # 50 leaves room for the suffixes added to it ("-failures", "-lambda", ...)
    # within the 64-character limit of IAM role names.
    condition     = can(regex("^[A-Za-z0-9_-]{1,50}$", var.name))
    error_message = "name must be 1 to 50 letters, digits, '-' or '_'."
  }
}

variable "stream_arn" {
  type        = string
  description = "ARN of the table's DynamoDB stream (aws dynamodb describe-table --table-name T --query Table.LatestStreamArn). The table ARN is derived from it."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]+/stream/[^/]+$", var.stream_arn))
    error_message = "stream_arn must be a DynamoDB stream ARN: arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/stream/LABEL."
  }
}

variable "lambda_zip_path" {
  type        = string
  description = "Path of the function package built by `make lambda` (dist/ddb2pg-lambda.zip: the bootstrap binary and the mapping file beside it)."

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must name the .zip built by `make lambda`."
  }
}

variable "architecture" {
  type        = string
  description = "Instruction set of the function; must match the GOARCH the zip was built for (make lambda builds arm64 unless GOARCH=amd64)."
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  type        = number
  description = "Memory of the function in MB (CPU scales with it)."
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout_seconds" {
  type        = number
  description = "Function timeout. A batch that times out is retried whole, so leave room for a full batch_size on a slow database."
  default     = 120

  validation {
    condition     = var.timeout_seconds >= 3 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 3 and 900."
  }
}

variable "reserved_concurrent_executions" {
  type        = number
  description = "Reserved concurrency; -1 for none. Stream polling needs at most (shards x parallelization_factor) concurrent executions; 0 stops all processing (an emergency brake that keeps the stream position)."
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions >= -1
    error_message = "reserved_concurrent_executions must be -1 (unreserved) or a count >= 0."
  }
}

variable "mapping_path" {
  type        = string
  description = "DDB2PG_MAPPING: path of the mapping file inside the function. make lambda bundles it beside the bootstrap, which Lambda unpacks into /var/task."
  default     = "/var/task/mapping.yaml"

  validation {
    condition     = length(trimspace(var.mapping_path)) > 0
    error_message = "mapping_path must not be empty."
  }
}

variable "database_secret_arn" {
  type        = string
  description = "DATABASE_SECRET_ARN: Secrets Manager secret in the RDS format (host, port, username, password, dbname). Preferred over database_url: the password never appears in the function's configuration. Exactly one of the two must be set."
  default     = null

  validation {
    condition     = var.database_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.database_secret_arn))
    error_message = "database_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "database_url" {
  type        = string
  description = "DATABASE_URL: postgres:// connection URL, used when database_secret_arn is null. It is stored in the function's environment in clear: prefer the secret."
  default     = null
  sensitive   = true

  validation {
    condition     = var.database_url == null || can(regex("^postgres(ql)?://", var.database_url))
    error_message = "database_url must start with postgres:// or postgresql://."
  }
}

variable "database_options" {
  type        = string
  description = "DDB2PG_DATABASE_OPTIONS: query string the function adds to the URL it builds from database_secret_arn, for what the RDS secret format cannot say, e.g. \"sslmode=verify-full&sslrootcert=/var/task/global-bundle.pem\" (bundle the CA file into the zip). Null for none. With database_url, put options in the URL."
  default     = null

  validation {
    condition     = var.database_options == null || can(regex("^[A-Za-z0-9_]+=[^&]*(&[A-Za-z0-9_]+=[^&]*)*$", var.database_options))
    error_message = "database_options must be a query string: key=value&key=value."
  }
}

variable "state_schema" {
  type        = string
  description = "DDB2PG_STATE_SCHEMA: ddb2pg's bookkeeping schema. Must be the schema the backfill used (its --state-schema); null for the default, ddb2pg. A mismatch would let the stream and the backfill each ignore the other's versions."
  default     = null

  validation {
    condition     = var.state_schema == null || can(regex("^[a-z_][a-z0-9_]{0,62}$", var.state_schema))
    error_message = "state_schema must be a lowercase PostgreSQL identifier."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key that encrypts the database secret; the function gets kms:Decrypt on this key only, through Secrets Manager only. Null when the secret uses the AWS-managed key."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "ttl_deletes" {
  type        = string
  description = "DDB2PG_TTL_DELETES: what a TTL expiry (a REMOVE by dynamodb.amazonaws.com) does: delete the item's rows, ignore it, or soft-delete (set the mapping's deleted-at column)."
  default     = "delete"

  validation {
    condition     = contains(["delete", "ignore", "soft"], var.ttl_deletes)
    error_message = "ttl_deletes must be delete, ignore or soft."
  }
}

variable "soft_delete_column" {
  type        = string
  description = "DDB2PG_SOFT_DELETE_COLUMN: the timestamptz column a TTL expiry sets when ttl_deletes is soft (e.g. deleted_at). Required with soft, ignored otherwise."
  default     = null

  validation {
    condition     = var.soft_delete_column == null || can(regex("^[a-z_][a-z0-9_]{0,62}$", var.soft_delete_column))
    error_message = "soft_delete_column must be a lowercase PostgreSQL identifier."
  }
}

variable "keys_only" {
  type        = bool
  description = "Set when the stream's view type is KEYS_ONLY: the function then reads each changed item with a strongly consistent GetItem, and only then gets dynamodb:GetItem on the table."
  default     = false
}

variable "enabled" {
  type        = bool
  description = "Whether the event source mapping polls the stream. Both values are safe at any time: the apply engine's version guard never lets an export copy overwrite a newer stream-applied state nor resurrect a deleted item. Keep it true unless you must: while disabled the stream's 24-hour retention keeps running, and records older than that are lost to this consumer."
  default     = true
}

variable "batch_size" {
  type        = number
  description = "Records per invocation (the apply engine writes one batch in one transaction per item group)."
  default     = 100

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  type        = number
  description = "How long Lambda gathers records before invoking; 0 for the lowest lag, more for fewer, larger batches."
  default     = 1

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300
    error_message = "maximum_batching_window_in_seconds must be between 0 and 300."
  }
}

variable "parallelization_factor" {
  type        = number
  description = "Concurrent batches per shard. Lambda keeps records of one partition key in order at any factor, and the version guard orders what it applies; 1 is the simplest to reason about."
  default     = 1

  validation {
    condition     = var.parallelization_factor >= 1 && var.parallelization_factor <= 10
    error_message = "parallelization_factor must be between 1 and 10."
  }
}

variable "maximum_retry_attempts" {
  type        = number
  description = "Retries of a failing batch before its records go to the failure queue; -1 retries until maximum_record_age_in_seconds. The function asks for a retry only when waiting or a fix can help (transient database trouble, a configuration error); records the mapping rejects are recorded in PostgreSQL, never retried. So retrying until the age limit beats skipping records."
  default     = -1

  validation {
    condition     = var.maximum_retry_attempts >= -1 && var.maximum_retry_attempts <= 10000
    error_message = "maximum_retry_attempts must be -1 (until the record age limit) or 0 to 10000."
  }
}

variable "maximum_record_age_in_seconds" {
  type        = number
  description = "Age after which a still-failing record goes to the failure queue instead of being retried. The default, 18 hours, leaves 6 hours of the stream's 24-hour retention to replay it from the stream (see docs/runbook.md); -1 never gives up (the shard then stalls until the record is trimmed)."
  default     = 64800

  validation {
    condition     = var.maximum_record_age_in_seconds == -1 || (var.maximum_record_age_in_seconds >= 60 && var.maximum_record_age_in_seconds <= 86400)
    error_message = "maximum_record_age_in_seconds must be -1 or between 60 and 86400 (a stream keeps records 24 hours)."
  }
}

variable "failure_queue_retention_seconds" {
  type        = number
  description = "How long the SQS failure queue keeps on-failure records. A record is replayable from the stream only within 24 hours of its write; after that it tells you which keys to re-export."
  default     = 1209600

  validation {
    condition     = var.failure_queue_retention_seconds >= 60 && var.failure_queue_retention_seconds <= 1209600
    error_message = "failure_queue_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets the function runs in to reach the database (private subnets with a route to it, and to Secrets Manager through a VPC endpoint or NAT). Empty: the function runs outside any VPC."
  default     = []

  validation {
    condition     = alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must be subnet ids (subnet-...)."
  }
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the function's network interfaces; the database's group must allow them in on its port. Required with subnet_ids."
  default     = []

  validation {
    condition     = alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "security_group_ids must be security group ids (sg-...)."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the function's CloudWatch log group."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "alarm_sns_topic_arn" {
  type        = string
  description = "SNS topic the alarms (replication lag, function errors, failure-queue messages) notify, on ALARM and on OK."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN."
  }
}

variable "iterator_age_alarm_seconds" {
  type        = number
  description = "Replication lag (the IteratorAge of the newest record processed) above which the lag alarm fires, after 5 minutes above it."
  default     = 300

  validation {
    condition     = var.iterator_age_alarm_seconds >= 1 && var.iterator_age_alarm_seconds <= 86400
    error_message = "iterator_age_alarm_seconds must be between 1 and 86400."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource the module creates."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "tag keys must be 1 to 128 characters and values at most 256."
  }
}
