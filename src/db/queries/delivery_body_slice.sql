-- $3 bytes of delivery $1's body from byte $2 (counted from 1): a body is read in slices, no hex copy of all of it.
SELECT substring(body FROM $2 FOR $3) FROM eventsshop.deliveries WHERE id = $1
