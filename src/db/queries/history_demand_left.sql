-- Whether hotel_demand_v2 still holds a row (the batches went past its last page).
SELECT EXISTS (SELECT 1 FROM eventsshop.hotel_demand_v2)
