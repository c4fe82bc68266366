UPDATE eventsshop.deliveries SET latest_pending = false WHERE id = $1
