-- projections migration 10: the unread count from two counters instead of a count over every
-- message of the unit (ADR 0025). Released migrations are never edited.
--
-- A unit's messages are never deleted and a read can only be recorded for a message the unit
-- has, so "unread for this user" is the unit's messages less the user's reads. The inbox keeps
-- both counts in the same statement that inserts the rows; a rebuild derives them the same way.
-- The counts of what is already there are taken here, with the inbox's checkpoint row locked so
-- that no batch of a running projector falls between the count and the new tables.
SELECT 1 FROM projections.checkpoints WHERE projection = 'inbox' FOR UPDATE;

CREATE TABLE inbox.message_counts (
    unit_id  text   PRIMARY KEY,
    messages bigint NOT NULL
);
CREATE TABLE inbox.read_counts (
    unit_id text   NOT NULL,
    user_id text   NOT NULL,
    reads   bigint NOT NULL,
    PRIMARY KEY (unit_id, user_id)
);
INSERT INTO inbox.message_counts (unit_id, messages)
SELECT unit_id, count(*) FROM inbox.messages GROUP BY unit_id;
INSERT INTO inbox.read_counts (unit_id, user_id, reads)
SELECT r.unit_id, r.user_id, count(*)
  FROM inbox.message_reads r
  JOIN inbox.messages m ON m.unit_id = r.unit_id AND m.message_id = r.message_id
 GROUP BY r.unit_id, r.user_id;
GRANT SELECT, INSERT, UPDATE, DELETE ON inbox.message_counts, inbox.read_counts TO samplan_app;
