-- Every accepted delivery, byte for byte: the source of truth every typed table derives from.
CREATE TABLE eventsshop.deliveries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind         text NOT NULL
                 CHECK (kind IN ('eventsinfo', 'eventimpact', 'hoteldemand', 'unclassified')),
    -- bytea, not jsonb: jsonb rejects \u0000 and keeps only the last of duplicate keys.
    body         bytea COMPRESSION lz4 NOT NULL,
    body_sha256  bytea NOT NULL CHECK (length(body_sha256) = 32),
    byte_size    bigint NOT NULL CHECK (byte_size >= 0),
    remote_addr  inet,
    principal    text NOT NULL,
    CONSTRAINT deliveries_body_sha256_key UNIQUE (body_sha256)
);

-- BRIN: received_at grows with the table, so a tiny index serves "since" queries at no write cost.
CREATE INDEX deliveries_received_at_brin ON eventsshop.deliveries USING brin (received_at);

COMMENT ON SCHEMA eventsshop IS 'Data EventsShop pushed to eventsshop-receiver.';
COMMENT ON TABLE eventsshop.deliveries IS
    'One row per accepted delivery (HTTP POST from EventsShop), stored byte for byte. A body posted again is not stored twice.';
COMMENT ON COLUMN eventsshop.deliveries.id IS 'Delivery id, as answered to the sender.';
COMMENT ON COLUMN eventsshop.deliveries.received_at IS 'When the delivery was stored.';
COMMENT ON COLUMN eventsshop.deliveries.kind IS
    'eventsinfo, eventimpact, hoteldemand, or unclassified when the shape was not recognised.';
COMMENT ON COLUMN eventsshop.deliveries.body IS 'The request body exactly as received (JSON text; convert_from(body, ''UTF8'') to read it).';
COMMENT ON COLUMN eventsshop.deliveries.body_sha256 IS 'SHA-256 of body; the key that makes a repeated delivery a duplicate.';
COMMENT ON COLUMN eventsshop.deliveries.byte_size IS 'Length of body in bytes.';
COMMENT ON COLUMN eventsshop.deliveries.remote_addr IS 'Address of the client that sent it.';
COMMENT ON COLUMN eventsshop.deliveries.principal IS
    'Which configured credential was presented: basic:<user> or bearer:<n> (n-th configured token). Never the secret.';
