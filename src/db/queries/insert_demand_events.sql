-- The demand event records of delivery $2, passed as one JSON array ($1).
INSERT INTO eventsshop.demand_event_records (delivery_id, demand_id, event_id, event_name, venue, category,
                                             event_date, estimated_attendee, attendee_min, attendee_max, extra)
SELECT $2::bigint, r.demand_id, r.event_id, r.event_name, r.venue, r.category, r.event_date,
       r.estimated_attendee, r.attendee_min, r.attendee_max, r.extra
FROM json_to_recordset($1::json) AS r(demand_id bigint, event_id bigint, event_name text, venue text,
     category text, event_date date, estimated_attendee text, attendee_min bigint, attendee_max bigint, extra jsonb)
