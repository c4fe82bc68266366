-- Every writer queues behind prune's request for a parent table's lock: prune asks briefly, and
-- again later, rather than make intake wait.
SET LOCAL lock_timeout = '200ms'
