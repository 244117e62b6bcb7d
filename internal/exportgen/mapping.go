package exportgen

import "fmt"

// MappingYAML is the mapping of the generated order model (the one in
// examples/orders/mapping.yaml), for the DynamoDB table sourceTable: tests
// of every step that reads it (stream apply, the poller, verify) share it.
func MappingYAML(sourceTable string) string {
	return fmt.Sprintf(`version: 1
source:
  table: %s
  key: [orderId]
tables:
  - name: customers
    primary_key: [id]
    shared: true
    columns:
      - {name: id,    from: customerId,    type: text, required: true}
      - {name: name,  from: customerName,  type: text}
      - {name: email, from: customerEmail, type: text}
  - name: orders
    primary_key: [id]
    columns:
      - {name: id,          from: orderId,    type: text}
      - {name: customer_id, from: customerId, type: text}
      - {name: total,       from: total,      type: "numeric(12,2)"}
      - {name: status,      from: status,     type: text}
      - {name: created_at,  from: createdAt,  type: timestamptz}
      - {name: attrs,       from: "*",        type: jsonb}
  - name: order_items
    for_each: items
    primary_key: [order_id, line]
    columns:
      - {name: order_id,   from: $.orderId, type: text}
      - {name: line,       from: "#index",  type: integer}
      - {name: product_id, from: productId, type: text}
      - {name: quantity,   from: quantity,  type: integer}
      - {name: price_at_purchase, from: price, type: "numeric(12,2)"}
`, sourceTable)
}
