-- Empty: its rows are all in eventsshop.hotel_demand.
DROP TABLE eventsshop.hotel_demand_v2
