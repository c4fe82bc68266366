-- The rows of an events statement: one per event and delivery mentioning it, as typed_rows.cpp's
-- EventColumns passes them (one array per column); seen_at is the delivery's received_at.
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::date[],
                     $8::text[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[],
                     $14::text[], $15::text[], $16::text[], $17::text[], $18::double precision[],
                     $19::double precision[], $20::integer[], $21::jsonb[], $22::timestamptz[],
                     $23::bigint[])
    AS r(event_id, name, category, sub_category, description, start_date, end_date, estimated_attendee,
         attendee_min, attendee_max, venue, address, city, state, zip, country, region, lat, lng,
         status_code, extra, seen_at, last_delivery_id)  -- seen_at: the delivery's received_at
