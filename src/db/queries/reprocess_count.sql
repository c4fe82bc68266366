-- How many deliveries reprocess selects: of kind $1 ('' any), received at or after $2 ('' any).
SELECT count(*) FROM eventsshop.deliveries
WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR received_at >= $2::timestamptz)
