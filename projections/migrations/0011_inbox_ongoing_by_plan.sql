-- projections migration 11: the inbox finds a plan's ongoing rows by the plan. Released
-- migrations are never edited.
--
-- Every batch the inbox applies loads the ongoing rows of the plans it touches
-- (`WHERE sip_id = ANY(…)`); the primary key leads with the unit, so that was a scan of every
-- unit's rows, growing with the region (seen in pg_stat_statements under load).
CREATE INDEX ongoing_sip_idx ON inbox.ongoing (sip_id);
