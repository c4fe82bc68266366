-- A field is replaced unless the row's value came from a higher delivery id (NULL comparisons:
-- no stored id, any value replaces the NULL; no incoming value, coalesce keeps the stored one).
ON CONFLICT (event_id) DO UPDATE SET
    name = CASE WHEN (EXCLUDED.name_delivery_id >= e.name_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.name, e.name) ELSE e.name END,
    name_delivery_id = greatest(e.name_delivery_id, EXCLUDED.name_delivery_id),
    category = CASE WHEN (EXCLUDED.category_delivery_id >= e.category_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.category, e.category) ELSE e.category END,
    category_delivery_id = greatest(e.category_delivery_id, EXCLUDED.category_delivery_id),
    sub_category = CASE WHEN (EXCLUDED.sub_category_delivery_id >= e.sub_category_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.sub_category, e.sub_category) ELSE e.sub_category END,
    sub_category_delivery_id = greatest(e.sub_category_delivery_id, EXCLUDED.sub_category_delivery_id),
    description = CASE WHEN (EXCLUDED.description_delivery_id >= e.description_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.description, e.description) ELSE e.description END,
    description_delivery_id = greatest(e.description_delivery_id, EXCLUDED.description_delivery_id),
    start_date = CASE WHEN (EXCLUDED.start_date_delivery_id >= e.start_date_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.start_date, e.start_date) ELSE e.start_date END,
    start_date_delivery_id = greatest(e.start_date_delivery_id, EXCLUDED.start_date_delivery_id),
    end_date = CASE WHEN (EXCLUDED.end_date_delivery_id >= e.end_date_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.end_date, e.end_date) ELSE e.end_date END,
    end_date_delivery_id = greatest(e.end_date_delivery_id, EXCLUDED.end_date_delivery_id),
    estimated_attendee = CASE WHEN (EXCLUDED.estimated_attendee_delivery_id >= e.estimated_attendee_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.estimated_attendee, e.estimated_attendee) ELSE e.estimated_attendee END,
    estimated_attendee_delivery_id = greatest(e.estimated_attendee_delivery_id, EXCLUDED.estimated_attendee_delivery_id),
    attendee_min = CASE WHEN (EXCLUDED.attendee_min_delivery_id >= e.attendee_min_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.attendee_min, e.attendee_min) ELSE e.attendee_min END,
    attendee_min_delivery_id = greatest(e.attendee_min_delivery_id, EXCLUDED.attendee_min_delivery_id),
    attendee_max = CASE WHEN (EXCLUDED.attendee_max_delivery_id >= e.attendee_max_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.attendee_max, e.attendee_max) ELSE e.attendee_max END,
    attendee_max_delivery_id = greatest(e.attendee_max_delivery_id, EXCLUDED.attendee_max_delivery_id),
    venue = CASE WHEN (EXCLUDED.venue_delivery_id >= e.venue_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.venue, e.venue) ELSE e.venue END,
    venue_delivery_id = greatest(e.venue_delivery_id, EXCLUDED.venue_delivery_id),
    address = CASE WHEN (EXCLUDED.address_delivery_id >= e.address_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.address, e.address) ELSE e.address END,
    address_delivery_id = greatest(e.address_delivery_id, EXCLUDED.address_delivery_id),
    city = CASE WHEN (EXCLUDED.city_delivery_id >= e.city_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.city, e.city) ELSE e.city END,
    city_delivery_id = greatest(e.city_delivery_id, EXCLUDED.city_delivery_id),
    state = CASE WHEN (EXCLUDED.state_delivery_id >= e.state_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.state, e.state) ELSE e.state END,
    state_delivery_id = greatest(e.state_delivery_id, EXCLUDED.state_delivery_id),
    zip = CASE WHEN (EXCLUDED.zip_delivery_id >= e.zip_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.zip, e.zip) ELSE e.zip END,
    zip_delivery_id = greatest(e.zip_delivery_id, EXCLUDED.zip_delivery_id),
    country = CASE WHEN (EXCLUDED.country_delivery_id >= e.country_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.country, e.country) ELSE e.country END,
    country_delivery_id = greatest(e.country_delivery_id, EXCLUDED.country_delivery_id),
    region = CASE WHEN (EXCLUDED.region_delivery_id >= e.region_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.region, e.region) ELSE e.region END,
    region_delivery_id = greatest(e.region_delivery_id, EXCLUDED.region_delivery_id),
    lat = CASE WHEN (EXCLUDED.lat_delivery_id >= e.lat_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.lat, e.lat) ELSE e.lat END,
    lat_delivery_id = greatest(e.lat_delivery_id, EXCLUDED.lat_delivery_id),
    lng = CASE WHEN (EXCLUDED.lng_delivery_id >= e.lng_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.lng, e.lng) ELSE e.lng END,
    lng_delivery_id = greatest(e.lng_delivery_id, EXCLUDED.lng_delivery_id),
    status_code = CASE WHEN (EXCLUDED.status_code_delivery_id >= e.status_code_delivery_id) IS NOT FALSE
        THEN coalesce(EXCLUDED.status_code, e.status_code) ELSE e.status_code END,
    status_code_delivery_id = greatest(e.status_code_delivery_id, EXCLUDED.status_code_delivery_id),
    -- extra, key by key by the same rule; a null never replaces a key's value, it only adds the key.
    extra = CASE WHEN EXCLUDED.extra = '{}' THEN e.extra ELSE e.extra || coalesce((
        SELECT jsonb_object_agg(n.key, n.value)
        FROM jsonb_each(EXCLUDED.extra) AS n
        WHERE CASE WHEN n.value = 'null' THEN NOT e.extra ? n.key
                   ELSE ((EXCLUDED.extra_delivery_ids->>n.key)::bigint
                         >= (e.extra_delivery_ids->>n.key)::bigint) IS NOT FALSE END),
        '{}'::jsonb) END,
    extra_delivery_ids = CASE WHEN EXCLUDED.extra_delivery_ids = '{}' THEN e.extra_delivery_ids ELSE (
        SELECT jsonb_object_agg(k.key, greatest((e.extra_delivery_ids->>k.key)::bigint,
                                                (EXCLUDED.extra_delivery_ids->>k.key)::bigint))
        FROM (SELECT jsonb_object_keys(e.extra_delivery_ids)
              UNION SELECT jsonb_object_keys(EXCLUDED.extra_delivery_ids)) AS k(key)) END,
    first_seen_at = least(e.first_seen_at, EXCLUDED.first_seen_at),
    last_seen_at = greatest(e.last_seen_at, EXCLUDED.last_seen_at),
    last_delivery_id = greatest(e.last_delivery_id, EXCLUDED.last_delivery_id)
