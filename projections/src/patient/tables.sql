CREATE TABLE persons (
    person_id                text    PRIMARY KEY,
    personal_identity_number text    NOT NULL,
    name                     text    NOT NULL,
    phone                    text,
    address                  text,
    protected_identity       boolean NOT NULL DEFAULT false,
    version                  bigint  NOT NULL,
    died_on                  date,
    changed_at               timestamptz
);
CREATE INDEX persons_pin_idx ON persons (personal_identity_number);
CREATE TABLE guardians (
    person_id                text NOT NULL,
    relative_id              text NOT NULL,
    personal_identity_number text NOT NULL,
    name                     text NOT NULL,
    PRIMARY KEY (person_id, relative_id)
);
CREATE INDEX guardians_pin_idx ON guardians (personal_identity_number);
CREATE TABLE plans (
    sip_id        text    PRIMARY KEY,
    person_id     text    NOT NULL,
    visible       boolean NOT NULL,
    document      text    NOT NULL,
    version       bigint  NOT NULL,
    last_position bigint  NOT NULL
);
CREATE INDEX plans_person_idx ON plans (person_id) WHERE visible;
