-- The lease holder's PostgreSQL session: a holder whose session is gone (its process was killed;
-- PostgreSQL closes a connection whose peer died at once) is replaced without waiting for its
-- lease to run out. One that hangs keeps its session, and its lease, until the lease expires.
ALTER TABLE outbox_lease ADD COLUMN backend_pid integer;
