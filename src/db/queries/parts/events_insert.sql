INSERT INTO eventsshop.events AS e (
    event_id, name, category, sub_category, description, start_date, end_date, estimated_attendee,
    attendee_min, attendee_max, venue, address, city, state, zip, country, region, lat, lng,
    status_code, name_delivery_id, category_delivery_id, sub_category_delivery_id,
    description_delivery_id, start_date_delivery_id, end_date_delivery_id,
    estimated_attendee_delivery_id, attendee_min_delivery_id, attendee_max_delivery_id,
    venue_delivery_id, address_delivery_id, city_delivery_id, state_delivery_id, zip_delivery_id,
    country_delivery_id, region_delivery_id, lat_delivery_id, lng_delivery_id,
    status_code_delivery_id, extra, extra_delivery_ids, first_seen_at, last_seen_at,
    last_delivery_id)
