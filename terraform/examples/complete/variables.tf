variable "region" {
  type        = string
  description = "AWS region of the DynamoDB table (and of everything this creates)."

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "table_name" {
  type        = string
  description = "The DynamoDB table being migrated. Its stream (NEW_AND_OLD_IMAGES) and point-in-time recovery must be on before apply: `ddb2pg export` checks both and prints the commands."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "table_name must be a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -)."
  }
}

variable "name" {
  type        = string
  description = "Prefix of every resource created here (function, queue, alarms, roles, task)."
  default     = "ddb2pg"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name must be 1 to 40 letters, digits, '-' or '_'."
  }
}

variable "export_bucket_name" {
  type        = string
  description = "Name of the S3 bucket to create for the exports (globally unique)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.export_bucket_name))
    error_message = "export_bucket_name must be a valid S3 bucket name."
  }
}

variable "export_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for the export bucket (SSE-KMS); null for SSE-S3."
  default     = null

  validation {
    condition     = var.export_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.export_kms_key_arn))
    error_message = "export_kms_key_arn must be a KMS key ARN."
  }
}

variable "lambda_zip_path" {
  type        = string
  description = "The function package from `make lambda` (relative to this directory by default)."
  default     = "../../../dist/ddb2pg-lambda.zip"

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must name the .zip built by `make lambda`."
  }
}

variable "lambda_architecture" {
  type        = string
  description = "Architecture the zip was built for (make lambda: arm64 by default, GOARCH=amd64 gives x86_64)."
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "database_secret_arn" {
  type        = string
  description = "Secrets Manager secret of the target PostgreSQL in the RDS format (host, port, username, password, dbname)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.database_secret_arn))
    error_message = "database_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "database_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key of the database secret; null when it uses the AWS-managed key."
  default     = null

  validation {
    condition     = var.database_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.database_kms_key_arn))
    error_message = "database_kms_key_arn must be a KMS key ARN."
  }
}

variable "database_options" {
  type        = string
  description = "Connection options the stream function adds to the URL it builds from the secret, e.g. \"sslmode=verify-full&sslrootcert=/var/task/global-bundle.pem\"; null for none."
  default     = null

  validation {
    condition     = var.database_options == null || can(regex("^[A-Za-z0-9_]+=", var.database_options))
    error_message = "database_options must be a query string: key=value&key=value."
  }
}

variable "database_url_without_password" {
  type        = string
  description = "postgres://USER@HOST:PORT/DB?sslmode=verify-full for the backfill tasks (the password comes from the secret). Only needed with backfill_export_uri."
  default     = null

  validation {
    condition     = var.database_url_without_password == null || can(regex("^postgres(ql)?://[^:@/]+@", var.database_url_without_password))
    error_message = "database_url_without_password must be postgres://USER@HOST/... with no password."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets with a route to the database (and to Secrets Manager, S3, ECR, CloudWatch Logs through endpoints or NAT)."

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must be one or more subnet ids."
  }
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups for the function and the backfill tasks; the database's group must allow them in on its port."

  validation {
    condition     = length(var.security_group_ids) > 0 && alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "security_group_ids must be one or more security group ids."
  }
}

variable "stream_trigger_enabled" {
  type        = bool
  description = "Whether the Lambda trigger polls the stream. true is the recommended default (see docs/runbook.md: every order of stream and backfill converges, and a disabled trigger lets the 24-hour stream retention run out)."
  default     = true
}

variable "ttl_deletes" {
  type        = string
  description = "DDB2PG_TTL_DELETES: delete, ignore or soft."
  default     = "delete"

  validation {
    condition     = contains(["delete", "ignore", "soft"], var.ttl_deletes)
    error_message = "ttl_deletes must be delete, ignore or soft."
  }
}

variable "soft_delete_column" {
  type        = string
  description = "With ttl_deletes = \"soft\": the timestamptz column a TTL expiry sets."
  default     = null

  validation {
    condition     = var.soft_delete_column == null || can(regex("^[a-z_][a-z0-9_]*$", var.soft_delete_column))
    error_message = "soft_delete_column must be a lowercase PostgreSQL identifier."
  }
}

variable "alarm_email" {
  type        = string
  description = "Address subscribed to the alarm topic (it must confirm the subscription); null for none."
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an e-mail address."
  }
}

variable "backfill_image" {
  type        = string
  description = "Image of ddb2pg for the backfill tasks (terraform/README.md); null to skip the backfill task (run `ddb2pg backfill` from a host instead)."
  default     = null

  validation {
    condition     = var.backfill_image == null || !can(regex("\\s", var.backfill_image))
    error_message = "backfill_image must be an image reference without spaces."
  }
}

variable "backfill_ecr_repository_arn" {
  type        = string
  description = "ECR repository of backfill_image, so the task may pull from it; null for a public image."
  default     = null

  validation {
    condition     = var.backfill_ecr_repository_arn == null || can(regex("^arn:aws[a-z-]*:ecr:", var.backfill_ecr_repository_arn))
    error_message = "backfill_ecr_repository_arn must be an ECR repository ARN."
  }
}

variable "backfill_export_uri" {
  type        = string
  description = "The s3:// export folder printed by `ddb2pg export`, for the backfill task. Set after the export completes."
  default     = null

  validation {
    condition     = var.backfill_export_uri == null || can(regex("^s3://.+/AWSDynamoDB/[^/]+$", var.backfill_export_uri))
    error_message = "backfill_export_uri must be s3://BUCKET/PREFIX/AWSDynamoDB/<exportId>."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource (through the provider's default_tags)."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "tag keys must be 1 to 128 characters and values at most 256."
  }
}
