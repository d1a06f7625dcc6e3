-- projections migration 14: each inbox row carries its person as the row's unit may see them.
-- Released migrations are never edited.
--
-- The lists joined every row to `persons` and `participants` to show the person's name, birth
-- year and protected identity (the name only to units that took part before the marking): two
-- key look-ups per row, more than half of what a page of 50 cost PostgreSQL. A person's name and
-- birth year never change, a unit's participation starts once and never ends, and identity is
-- marked protected at most once, so what a unit may see of a row's person changes only when the
-- identity is marked; the inbox now writes it into the row and, at a marking, updates the
-- person's rows (ADR 0029).
ALTER TABLE inbox.messages
    ADD COLUMN person_name text,
    ADD COLUMN person_birth_year integer,
    ADD COLUMN person_protected boolean NOT NULL DEFAULT false;
ALTER TABLE inbox.todos
    ADD COLUMN person_name text,
    ADD COLUMN person_birth_year integer,
    ADD COLUMN person_protected boolean NOT NULL DEFAULT false;
ALTER TABLE inbox.ongoing
    ADD COLUMN person_name text,
    ADD COLUMN person_birth_year integer,
    ADD COLUMN person_protected boolean NOT NULL DEFAULT false;

-- The rows already there, as the lists showed them until now.
UPDATE inbox.messages r
   SET person_name = CASE WHEN v.visible THEN v.name END,
       person_birth_year = CASE WHEN v.visible THEN v.birth_year END,
       person_protected = v.protected_identity
  FROM (SELECT m.unit_id, m.message_id, p.name, p.birth_year, p.protected_identity,
               coalesce(p.protected_position IS NULL
                        OR pa.since_position < p.protected_position, false) AS visible
          FROM inbox.messages m
          JOIN inbox.persons p ON p.person_id = m.person_id
          LEFT JOIN inbox.participants pa ON pa.sip_id = m.sip_id AND pa.unit_id = m.unit_id) v
 WHERE r.unit_id = v.unit_id AND r.message_id = v.message_id;
UPDATE inbox.todos r
   SET person_name = CASE WHEN v.visible THEN v.name END,
       person_birth_year = CASE WHEN v.visible THEN v.birth_year END,
       person_protected = v.protected_identity
  FROM (SELECT t.todo_id, p.name, p.birth_year, p.protected_identity,
               coalesce(p.protected_position IS NULL
                        OR pa.since_position < p.protected_position, false) AS visible
          FROM inbox.todos t
          JOIN inbox.persons p ON p.person_id = t.person_id
          LEFT JOIN inbox.participants pa ON pa.sip_id = t.sip_id AND pa.unit_id = t.unit_id) v
 WHERE r.todo_id = v.todo_id;
UPDATE inbox.ongoing r
   SET person_name = CASE WHEN v.visible THEN v.name END,
       person_birth_year = CASE WHEN v.visible THEN v.birth_year END,
       person_protected = v.protected_identity
  FROM (SELECT o.unit_id, o.sip_id, p.name, p.birth_year, p.protected_identity,
               coalesce(p.protected_position IS NULL
                        OR pa.since_position < p.protected_position, false) AS visible
          FROM inbox.ongoing o
          JOIN inbox.persons p ON p.person_id = o.person_id
          LEFT JOIN inbox.participants pa ON pa.sip_id = o.sip_id AND pa.unit_id = o.unit_id) v
 WHERE r.unit_id = v.unit_id AND r.sip_id = v.sip_id;
