variable "bucket_name" {
  type        = string
  description = "Name of the S3 bucket that receives the table's exports (globally unique)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !strcontains(var.bucket_name, "..")
    error_message = "bucket_name must be 3 to 63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit."
  }
}

variable "export_prefix" {
  type        = string
  description = "Key prefix the exports go under (ddb2pg export --s3-prefix); the lifecycle rule and the policies cover only this prefix."
  default     = "ddb2pg"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.export_prefix))
    error_message = "export_prefix must be a non-empty key prefix without leading, trailing or doubled '/'."
  }
}

variable "table_arn" {
  type        = string
  description = "ARN of the DynamoDB table exported into this bucket; the exporter policy allows exports of this table only."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]+$", var.table_arn))
    error_message = "table_arn must be a DynamoDB table ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME)."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for SSE-KMS; null for SSE-S3 (AES256). With a key, pass it to `ddb2pg export --kms-key` too (the export_command output does)."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "expiration_days" {
  type        = number
  description = "Days after which exported objects expire. An export is needed until the backfill is verified (and again only to redo it); a fresh export is cheaper than keeping stale copies of the table."
  default     = 30

  validation {
    condition     = var.expiration_days >= 1 && var.expiration_days <= 3650
    error_message = "expiration_days must be between 1 and 3650."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Allow terraform destroy to delete a bucket that still holds exports."
  default     = false
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
