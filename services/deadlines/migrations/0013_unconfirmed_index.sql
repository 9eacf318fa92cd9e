-- The inbox watcher's count of each agency's unconfirmed assignments (inboxes.UNCONFIRMED),
-- read every minute, had no index of its own: it scanned the whole table. At a million open
-- unconfirmed clocks (bench-pipeline's appeals are never confirmed) that was a parallel scan
-- of 1.8 s with three processes, once a minute, on the cores the services share. Here the
-- count reads only this index (the rows it counts, no others) and the oldest is its first
-- entry per agency. A confirmation or a closed hop leaves it.
CREATE INDEX clocks_unconfirmed ON clocks (agency, agency_received_at)
    WHERE state = 'open' AND confirmed_at IS NULL;
