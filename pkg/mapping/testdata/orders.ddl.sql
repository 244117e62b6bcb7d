-- ddb2pg mapping "mapping.yaml" for DynamoDB table "Orders", key ["orderId"]
-- fingerprint eb68ac0af2f9d5dc7db63ec085170bd0eb592ed1e7e4af1e0a882dff4c21f1f2

-- table "customers": one row per item; shared: rows are upserted by many items and never deleted
CREATE TABLE IF NOT EXISTS "customers" (
    "id" text NOT NULL, -- from "customerId"
    "name" text, -- from "customerName"
    "email" text, -- from "customerEmail"
    PRIMARY KEY ("id")
);

-- table "orders": one row per item
CREATE TABLE IF NOT EXISTS "orders" (
    "id" text, -- from "orderId"
    "customer_id" text, -- from "customerId"
    "total" numeric(12,2), -- from "total"
    "status" text, -- from "status"
    "created_at" timestamptz, -- from "createdAt"
    "attrs" jsonb, -- from "*"
    PRIMARY KEY ("id")
);

-- table "order_items": one row per element of "items"
CREATE TABLE IF NOT EXISTS "order_items" (
    "order_id" text, -- from "$.orderId"
    "line" integer, -- from "#index"
    "product_id" text, -- from "productId"
    "quantity" integer, -- from "quantity"
    "price_at_purchase" numeric(12,2), -- from "price"
    PRIMARY KEY ("order_id", "line")
);
