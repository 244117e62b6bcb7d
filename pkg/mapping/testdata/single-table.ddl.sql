-- ddb2pg mapping "mapping.yaml" for DynamoDB table "App", key ["PK" "SK"]
-- fingerprint edd6a49d54a456052c79d99f8682e8e0d5d7bf36429eed800f11e8be0adf1361

CREATE SCHEMA IF NOT EXISTS "app";

-- table "app.customers": one row per item; where "PK" begins with "CUSTOMER#" and "SK" = "PROFILE"
CREATE TABLE IF NOT EXISTS "app"."customers" (
    "id" text, -- from "PK"
    "name" text NOT NULL, -- from "name"
    "email" varchar(320), -- from "email"
    "since" date, -- from "since"
    "extra" jsonb, -- from "*"
    PRIMARY KEY ("id")
);

-- table "app.addresses": one row per item; where "SK" begins with "ADDRESS#"
CREATE TABLE IF NOT EXISTS "app"."addresses" (
    "customer_id" text, -- from "PK"
    "label" text, -- from "SK"
    "street" text, -- from "street"
    "city" text, -- from "city"
    "postcode" text, -- from "postcode"
    "country" text, -- from "country"
    PRIMARY KEY ("customer_id", "label")
);

-- table "app.orders": one row per item; where "SK" begins with "ORDER#"
CREATE TABLE IF NOT EXISTS "app"."orders" (
    "customer_id" text, -- from "PK"
    "id" text, -- from "SK"
    "total" numeric(12,2) NOT NULL, -- from "total"
    "status" text, -- from "status"
    "placed_at" timestamptz, -- from "placedAt"
    "tags" text[], -- from "tags"
    "gift" boolean, -- from "gift"
    PRIMARY KEY ("customer_id", "id")
);

-- table "app.order_lines": one row per element of "lines"; where "SK" begins with "ORDER#"
CREATE TABLE IF NOT EXISTS "app"."order_lines" (
    "customer_id" text, -- from "$.PK"
    "order_id" text, -- from "$.SK"
    "line" smallint, -- from "#index"
    "sku" text NOT NULL, -- from "sku"
    "quantity" integer, -- from "qty"
    "unit_price" numeric(10,2), -- from "unitPrice"
    PRIMARY KEY ("customer_id", "order_id", "line")
);

-- table "app.products": one row per element of "lines"; where "SK" begins with "ORDER#"; shared: rows are upserted by many items and never deleted
CREATE TABLE IF NOT EXISTS "app"."products" (
    "sku" text, -- from "sku"
    "name" text, -- from "productName"
    PRIMARY KEY ("sku")
);
