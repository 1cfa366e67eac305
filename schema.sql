-- Eventdesk SQLite schema: the single source of truth for every table.
-- Safe to run on every start (IF NOT EXISTS everywhere). Later changes are recorded
-- migrations in server/migrations.py, each bumping schema_migrations.
-- Connections turn on foreign keys and WAL (server/db.py); times are ISO 8601 text:
-- instants in UTC ("2014-10-20T12:00:00Z"), calendar days as "YYYY-MM-DD".

CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,       -- 1 is this file as first written
    applied_at  TEXT NOT NULL
);

-- One row per event; `version` rises by one in the same transaction as any programme change.
CREATE TABLE IF NOT EXISTS events (
    id                INTEGER PRIMARY KEY,
    slug              TEXT NOT NULL UNIQUE,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    timezone          TEXT NOT NULL,            -- IANA zone, e.g. Europe/Brussels
    start_date        TEXT NOT NULL,            -- first day, local
    end_date          TEXT NOT NULL,            -- last day, local, inclusive
    venue             TEXT NOT NULL DEFAULT '',
    city              TEXT NOT NULL DEFAULT '',
    country           TEXT NOT NULL DEFAULT '',
    capacity          INTEGER CHECK (capacity IS NULL OR capacity > 0),
    organiser         TEXT NOT NULL DEFAULT '',
    url               TEXT NOT NULL DEFAULT '',
    notice            TEXT NOT NULL DEFAULT '',  -- shown with the programme (e.g. "illustrative")
    themes            TEXT NOT NULL DEFAULT '[]', -- JSON list of strings
    guiding_questions TEXT NOT NULL DEFAULT '[]', -- JSON list of strings
    previous_editions TEXT NOT NULL DEFAULT '[]', -- JSON list of {year, city}
    version           INTEGER NOT NULL DEFAULT 0,
    changes_floor     INTEGER NOT NULL DEFAULT 0, -- /changes?since=N answers only N >= this
    anonymised_at     TEXT,                       -- personal data anonymised (server/data_lifecycle.py)
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    CHECK (end_date >= start_date)
);

-- Days are stored (not only derived) so apps get labels and the day filter is an indexed join.
CREATE TABLE IF NOT EXISTS days (
    event_id  INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    date      TEXT NOT NULL,          -- local calendar day
    number    INTEGER NOT NULL,       -- 1-based
    PRIMARY KEY (event_id, date),
    UNIQUE (event_id, number)
);

CREATE TABLE IF NOT EXISTS rooms (
    event_id     INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    id           TEXT NOT NULL,       -- stable string id, unique in the event
    name         TEXT NOT NULL,
    capacity     INTEGER CHECK (capacity IS NULL OR capacity > 0),
    description  TEXT NOT NULL DEFAULT '',
    position     INTEGER NOT NULL DEFAULT 0,  -- display order
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (event_id, id)
);

CREATE TABLE IF NOT EXISTS tracks (
    event_id     INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    color        TEXT NOT NULL DEFAULT '',   -- "#rrggbb" or empty
    description  TEXT NOT NULL DEFAULT '',
    position     INTEGER NOT NULL DEFAULT 0,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (event_id, id)
);

CREATE TABLE IF NOT EXISTS speakers (
    event_id           INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    id                 TEXT NOT NULL,
    name               TEXT NOT NULL,
    job_title          TEXT NOT NULL DEFAULT '',
    organisation       TEXT NOT NULL DEFAULT '',
    organisation_type  TEXT NOT NULL DEFAULT '',
    country            TEXT NOT NULL DEFAULT '',
    bio                TEXT NOT NULL DEFAULT '',
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (event_id, id)
);
CREATE INDEX IF NOT EXISTS speakers_by_name ON speakers (event_id, name);

CREATE TABLE IF NOT EXISTS sessions (
    pk          INTEGER PRIMARY KEY,      -- internal; also the rowid of its sessions_fts row
    event_id    INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    guid        TEXT NOT NULL UNIQUE,     -- UUID fixed at creation; iCal UID and frab guid
    title       TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('plenary', 'parallel', 'workshop', 'break',
                    'networking', 'matchmaking', 'reception', 'other')),
    track_id    TEXT,
    room_id     TEXT,
    starts_at   TEXT NOT NULL,            -- UTC instant
    ends_at     TEXT NOT NULL,            -- UTC instant
    day         TEXT NOT NULL,            -- local date of starts_at, for the day filter
    abstract    TEXT NOT NULL DEFAULT '',
    language    TEXT NOT NULL DEFAULT 'en',
    capacity    INTEGER CHECK (capacity IS NULL OR capacity > 0),
    status      TEXT NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'cancelled')),
    sequence    INTEGER NOT NULL DEFAULT 0,  -- iCal SEQUENCE: rises when time, room or status change
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (event_id, id),
    FOREIGN KEY (event_id, track_id) REFERENCES tracks (event_id, id),
    FOREIGN KEY (event_id, room_id) REFERENCES rooms (event_id, id),
    CHECK (ends_at > starts_at)
);
CREATE INDEX IF NOT EXISTS sessions_by_start ON sessions (event_id, starts_at);
CREATE INDEX IF NOT EXISTS sessions_by_day ON sessions (event_id, day, starts_at);
CREATE INDEX IF NOT EXISTS sessions_by_track ON sessions (event_id, track_id, starts_at);
CREATE INDEX IF NOT EXISTS sessions_by_room ON sessions (event_id, room_id, starts_at);
CREATE INDEX IF NOT EXISTS sessions_by_type ON sessions (event_id, type, starts_at);

CREATE TABLE IF NOT EXISTS session_speakers (
    event_id    INTEGER NOT NULL,
    session_id  TEXT NOT NULL,
    speaker_id  TEXT NOT NULL,
    role        TEXT NOT NULL DEFAULT 'speaker'
                    CHECK (role IN ('speaker', 'moderator', 'panellist', 'chair')),
    position    INTEGER NOT NULL DEFAULT 0,   -- display order within the session
    PRIMARY KEY (event_id, session_id, speaker_id),
    FOREIGN KEY (event_id, session_id) REFERENCES sessions (event_id, id) ON DELETE CASCADE,
    FOREIGN KEY (event_id, speaker_id) REFERENCES speakers (event_id, id)
);
-- The speaker filter and a speaker's own session list.
CREATE INDEX IF NOT EXISTS session_speakers_by_speaker
    ON session_speakers (event_id, speaker_id, session_id);

-- Full-text search over title, abstract and speaker names (rowid = sessions.pk); rows are
-- kept in step with sessions by server/programme_edit.py in the same transaction as the change.
CREATE VIRTUAL TABLE IF NOT EXISTS sessions_fts USING fts5 (
    title,
    abstract,
    speakers,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- What changed in which version, so apps and the CLI can sync deltas.
CREATE TABLE IF NOT EXISTS changes (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('event', 'session', 'speaker', 'room', 'track')),
    item_id     TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('upsert', 'delete')),
    changed_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_version ON changes (event_id, version);

-- Bearer tokens (admin now; attendee and door later). Only a SHA-256 hash is stored.
CREATE TABLE IF NOT EXISTS api_tokens (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'attendee', 'door')),
    event_id    INTEGER REFERENCES events(id) ON DELETE CASCADE,  -- NULL: every event
    label       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    desk        INTEGER NOT NULL DEFAULT 0,  -- a door device that may also work the desk page
    last_seen_at TEXT,                     -- a door's last bundle sync or upload (at most once a minute)
    pending_uploads INTEGER                -- scans the door said it still holds, at that contact
);

-- People registered for an event. Their API and calendar-feed tokens are kept only as
-- SHA-256 hashes; NULL means none issued (or revoked). Deleting a row erases the person.
CREATE TABLE IF NOT EXISTS attendees (
    pk                INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,      -- public id, random, e.g. "a-7k2m9q4x"
    event_id          INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    email             TEXT NOT NULL,             -- stored lower-case; the import key
    organisation      TEXT NOT NULL DEFAULT '',
    country           TEXT NOT NULL DEFAULT '',  -- ISO 3166-1 alpha-2 or empty
    category          TEXT NOT NULL CHECK (category IN ('eu-policy-maker', 'national-policy-maker',
                          'regional-policy-maker', 'cluster-manager', 'practitioner', 'academia',
                          'industry', 'press', 'staff')),
    api_token_hash    TEXT UNIQUE,
    feed_generation   INTEGER NOT NULL DEFAULT 0,  -- rises on rotation; the feed token derives from it
    feed_token_hash   TEXT UNIQUE,
    schedule_version  INTEGER NOT NULL DEFAULT 0,  -- rises with every bookmark change (feed cache key)
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (event_id, email)
);
CREATE INDEX IF NOT EXISTS attendees_by_name ON attendees (event_id, name);

-- An attendee's personal link, {public URL}/e/{event}/join#<secret>. The secret is an HMAC of
-- the attendee id and `generation` under the server key (server/personal_links.py), so the same
-- link can be sent again; only its hash is kept. Rotating raises the generation.
CREATE TABLE IF NOT EXISTS attendee_links (
    attendee_pk  INTEGER PRIMARY KEY REFERENCES attendees(pk) ON DELETE CASCADE,
    generation   INTEGER NOT NULL DEFAULT 0,
    token_hash   TEXT NOT NULL UNIQUE,
    sent_at      TEXT,                     -- when send-links mailed this generation; NULL: not yet
    sent_to      TEXT                      -- the address it went to
);

-- The browsers an attendee signed in with their link: one API token each, kept as a hash,
-- listed under /me/devices. Signing a device out, or rotating the link, deletes its row.
CREATE TABLE IF NOT EXISTS attendee_devices (
    id           INTEGER PRIMARY KEY,
    attendee_pk  INTEGER NOT NULL REFERENCES attendees(pk) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    label        TEXT NOT NULL DEFAULT '',  -- what the browser said it is, e.g. "Android phone"
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attendee_devices_by_attendee ON attendee_devices (attendee_pk);

-- Bookmarked sessions: an attendee's personal schedule.
CREATE TABLE IF NOT EXISTS schedule_items (
    attendee_pk  INTEGER NOT NULL REFERENCES attendees(pk) ON DELETE CASCADE,
    event_id     INTEGER NOT NULL,
    session_id   TEXT NOT NULL,
    added_at     TEXT NOT NULL,
    PRIMARY KEY (attendee_pk, session_id),
    FOREIGN KEY (event_id, session_id) REFERENCES sessions (event_id, id) ON DELETE CASCADE
);
-- Seats taken per session, counted when a session has a capacity.
CREATE INDEX IF NOT EXISTS schedule_items_by_session ON schedule_items (event_id, session_id);

-- Ed25519 keys that sign an event's tickets. Only public keys live here; each private key is
-- a file of mode 0600 in DATA_DIR/keys/. A retired key still verifies the tickets it signed.
CREATE TABLE IF NOT EXISTS ticket_keys (
    event_id    INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    kid         TEXT NOT NULL,            -- first 16 hex digits of SHA-256 of the public key
    public_key  TEXT NOT NULL,            -- 32 raw bytes, base64
    created_at  TEXT NOT NULL,
    retired_at  TEXT,                     -- set when a newer key takes over signing
    PRIMARY KEY (event_id, kid)
);

-- Ticket serials. Re-issuing revokes the old serial; erasing an attendee revokes theirs and
-- forgets who held it, so doors learn the code is dead without keeping personal data.
CREATE TABLE IF NOT EXISTS tickets (
    serial       TEXT PRIMARY KEY,        -- 16 hex digits (64 random bits)
    event_id     INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    attendee_pk  INTEGER REFERENCES attendees(pk) ON DELETE SET NULL,
    issued_at    TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX IF NOT EXISTS tickets_by_attendee ON tickets (attendee_pk, revoked_at);
CREATE INDEX IF NOT EXISTS tickets_by_event ON tickets (event_id, revoked_at);

-- Check-in lists: who may pass which door when. audience 'all', 'categories' (the JSON list
-- in `categories`) or 'explicit' (the rows of checkin_list_members).
CREATE TABLE IF NOT EXISTS checkin_lists (
    pk             INTEGER PRIMARY KEY,
    event_id       INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    name           TEXT NOT NULL,
    starts_at      TEXT NOT NULL,         -- UTC instant the doors open
    ends_at        TEXT NOT NULL,         -- UTC instant they close
    audience       TEXT NOT NULL DEFAULT 'all' CHECK (audience IN ('all', 'categories', 'explicit')),
    categories     TEXT NOT NULL DEFAULT '[]',
    allow_reentry  INTEGER NOT NULL DEFAULT 1,
    updated_at     TEXT NOT NULL,
    UNIQUE (event_id, id),
    UNIQUE (event_id, name),
    CHECK (ends_at > starts_at)
);

CREATE TABLE IF NOT EXISTS checkin_list_members (
    list_pk      INTEGER NOT NULL REFERENCES checkin_lists(pk) ON DELETE CASCADE,
    attendee_pk  INTEGER NOT NULL REFERENCES attendees(pk) ON DELETE CASCADE,
    PRIMARY KEY (list_pk, attendee_pk)
);

-- Every scan attempt, accepted or not: the audit log and the source of "who is inside".
-- The raw payload is never kept, only its SHA-256. A repeated (device, scan_id) is answered
-- from the stored `response` and records nothing new.
CREATE TABLE IF NOT EXISTS scans (
    pk            INTEGER PRIMARY KEY,
    event_id      INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    device_id     INTEGER REFERENCES api_tokens(id),   -- the door or admin token that sent it
    scan_id       TEXT NOT NULL,
    list_pk       INTEGER REFERENCES checkin_lists(pk) ON DELETE SET NULL,
    type          TEXT NOT NULL CHECK (type IN ('entry', 'exit')),
    source        TEXT NOT NULL CHECK (source IN ('online', 'offline', 'desk')),
    payload_hash  TEXT NOT NULL DEFAULT '',
    serial        TEXT,                   -- when the code verified
    attendee_pk   INTEGER REFERENCES attendees(pk) ON DELETE SET NULL,
    result        TEXT NOT NULL CHECK (result IN ('ok', 'already_checked_in', 'revoked',
                      'invalid_signature', 'unknown_ticket', 'wrong_event', 'not_on_list', 'malformed')),
    conflict      INTEGER NOT NULL DEFAULT 0,  -- 1: a later entry of someone already inside
    undone_at     TEXT,                   -- a desk undo of an accepted scan ...
    undone_by     INTEGER REFERENCES api_tokens(id),   -- ... and who did it
    scanned_at    TEXT NOT NULL,          -- door time, UTC
    received_at   TEXT NOT NULL,          -- server time, UTC
    response      TEXT NOT NULL,          -- the JSON answer, repeated for a repeated scan_id
    -- SHA-256 of the request as sent (source, payload, list, type, door time, desk attendee):
    -- the answer is repeated only for the same request; NULL in rows older than migration 3.
    request_hash  TEXT,
    UNIQUE (event_id, device_id, scan_id)
);
-- A scan_id sent again by its device with different content: refused (409 scan_id_reused)
-- and kept here for the audit; the scan it named keeps its verdict. Hash, never the text.
CREATE TABLE IF NOT EXISTS scan_id_reuses (
    pk            INTEGER PRIMARY KEY,
    scan_pk       INTEGER NOT NULL REFERENCES scans(pk) ON DELETE CASCADE,  -- the first use
    source        TEXT NOT NULL CHECK (source IN ('online', 'offline', 'desk')),
    payload_hash  TEXT NOT NULL DEFAULT '',
    list_ref      TEXT NOT NULL,          -- the list as sent
    type          TEXT NOT NULL,
    scanned_at    TEXT,                   -- door time as sent, if any
    received_at   TEXT NOT NULL           -- server time, UTC
);
-- A person's accepted scans on a list, in door-time order: all a verdict reads. Partial, so
-- refused attempts cost no index entry.
CREATE INDEX IF NOT EXISTS scans_accepted ON scans (list_pk, attendee_pk, scanned_at)
    WHERE result = 'ok' AND undone_at IS NULL;

-- Every change a door's roster must hear of, numbered: the door bundle's `?since=` cursor.
-- Filled by the triggers below, so no code path can forget it; a counter, not a clock, so a
-- clock set back (EVENTDESK_NOW, NTP) cannot hide a change. attendee_pk NULL: a list changed.
CREATE TABLE IF NOT EXISTS roster_changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     INTEGER NOT NULL,
    attendee_pk  INTEGER
);
CREATE INDEX IF NOT EXISTS roster_changes_by_event ON roster_changes (event_id, seq);

CREATE TRIGGER IF NOT EXISTS roster_attendee_added AFTER INSERT ON attendees BEGIN
    INSERT INTO roster_changes (event_id, attendee_pk) VALUES (NEW.event_id, NEW.pk);
END;
CREATE TRIGGER IF NOT EXISTS roster_attendee_changed AFTER UPDATE OF name, organisation, category ON attendees
BEGIN
    INSERT INTO roster_changes (event_id, attendee_pk) VALUES (NEW.event_id, NEW.pk);
END;
CREATE TRIGGER IF NOT EXISTS roster_ticket_issued AFTER INSERT ON tickets BEGIN
    INSERT INTO roster_changes (event_id, attendee_pk) VALUES (NEW.event_id, NEW.attendee_pk);
END;
CREATE TRIGGER IF NOT EXISTS roster_ticket_revoked AFTER UPDATE OF revoked_at ON tickets BEGIN
    INSERT INTO roster_changes (event_id, attendee_pk) VALUES (NEW.event_id, NEW.attendee_pk);
END;
CREATE TRIGGER IF NOT EXISTS roster_member_added AFTER INSERT ON checkin_list_members BEGIN
    INSERT INTO roster_changes (event_id, attendee_pk)
        SELECT event_id, NEW.attendee_pk FROM checkin_lists WHERE pk = NEW.list_pk;
END;
CREATE TRIGGER IF NOT EXISTS roster_member_removed AFTER DELETE ON checkin_list_members BEGIN
    INSERT INTO roster_changes (event_id, attendee_pk)
        SELECT event_id, OLD.attendee_pk FROM checkin_lists WHERE pk = OLD.list_pk;
END;
CREATE TRIGGER IF NOT EXISTS roster_list_added AFTER INSERT ON checkin_lists BEGIN
    INSERT INTO roster_changes (event_id) VALUES (NEW.event_id);
END;
CREATE TRIGGER IF NOT EXISTS roster_list_changed AFTER UPDATE ON checkin_lists BEGIN
    INSERT INTO roster_changes (event_id) VALUES (NEW.event_id);
END;
CREATE TRIGGER IF NOT EXISTS roster_list_removed AFTER DELETE ON checkin_lists BEGIN
    INSERT INTO roster_changes (event_id) VALUES (OLD.event_id);
END;

-- Cluster matchmaking (issue 12). One set-up per event: the window its one-to-one meetings
-- fill, cut into slots of slot_minutes (breaks left out), at named tables in one room.
CREATE TABLE IF NOT EXISTS matchmaking_settings (
    event_id           INTEGER PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
    starts_at          TEXT NOT NULL,           -- UTC instant the first slot may start
    ends_at            TEXT NOT NULL,           -- UTC instant the last slot must end by
    slot_minutes       INTEGER NOT NULL CHECK (slot_minutes BETWEEN 5 AND 240),
    breaks             TEXT NOT NULL DEFAULT '[]',  -- JSON list of [start, end] UTC instants
    room_id            TEXT,                    -- where the tables stand (a room of the event)
    tables             TEXT NOT NULL DEFAULT '[]',  -- JSON list of table names, in order
    cap                INTEGER NOT NULL CHECK (cap BETWEEN 1 AND 100),  -- live meetings per participant
    requests_close_at  TEXT NOT NULL,           -- UTC: later requests are refused, unanswered ones expire
    updated_at         TEXT NOT NULL,
    CHECK (ends_at > starts_at)
);

-- An attendee who opted in to matchmaking, with their public profile. Leaving keeps the row
-- (left_at set) so partners of cancelled meetings still see who it was; erasing the attendee
-- (server/data_lifecycle.py) cancels their meetings, empties the profile and keeps the row,
-- its attendee_pk NULL, so the partner still sees the meeting cancelled and why (migration 5).
CREATE TABLE IF NOT EXISTS participants (
    pk            INTEGER PRIMARY KEY,        -- also the rowid of its participants_fts row
    id            TEXT NOT NULL UNIQUE,       -- public id, random, e.g. "p-7k2m9q4x"
    event_id      INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    attendee_pk   INTEGER REFERENCES attendees(pk) ON DELETE SET NULL,  -- NULL: the attendee was erased
    organisation  TEXT NOT NULL,
    cluster       TEXT NOT NULL,              -- the cluster's name
    country       TEXT NOT NULL,              -- ISO 3166-1 alpha-2
    sectors       TEXT NOT NULL DEFAULT '[]', -- JSON list of sector ids (server/data/sectors.json)
    offer         TEXT NOT NULL DEFAULT '',
    seek          TEXT NOT NULL DEFAULT '',
    languages     TEXT NOT NULL DEFAULT '[]', -- JSON list of ISO 639-1 codes
    availability  TEXT,                       -- JSON list of [start, end] UTC; NULL: the whole session
    hidden        INTEGER NOT NULL DEFAULT 0, -- hidden by an admin: only admins see the profile
    synthetic     INTEGER NOT NULL DEFAULT 0, -- demo data, marked wherever it shows
    left_at       TEXT,                       -- when they left (DELETE /me/matchmaking); NULL: taking part
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (event_id, attendee_pk)
);
CREATE INDEX IF NOT EXISTS participants_by_event ON participants (event_id, country);

-- Full-text search over the profile (rowid = participants.pk), kept in step by the triggers below.
CREATE VIRTUAL TABLE IF NOT EXISTS participants_fts USING fts5 (
    organisation,
    cluster,
    offer,
    seek,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS participants_fts_added AFTER INSERT ON participants BEGIN
    INSERT INTO participants_fts (rowid, organisation, cluster, offer, seek)
        VALUES (NEW.pk, NEW.organisation, NEW.cluster, NEW.offer, NEW.seek);
END;
CREATE TRIGGER IF NOT EXISTS participants_fts_changed AFTER UPDATE OF organisation, cluster, offer, seek
    ON participants BEGIN
    UPDATE participants_fts SET organisation = NEW.organisation, cluster = NEW.cluster, offer = NEW.offer,
        seek = NEW.seek WHERE rowid = NEW.pk;
END;
CREATE TRIGGER IF NOT EXISTS participants_fts_removed AFTER DELETE ON participants BEGIN
    DELETE FROM participants_fts WHERE rowid = OLD.pk;
END;

-- One-to-one meetings. Placed ones (accepted, slot and table set) never share a table in a
-- slot (index below); a person in one slot at most once is kept by matchmaking.place inside
-- one BEGIN IMMEDIATE transaction. sequence is the iCal SEQUENCE: it rises when moved.
CREATE TABLE IF NOT EXISTS meetings (
    pk             INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,      -- public id, random, e.g. "m-7k2m9q4x"
    event_id       INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    requester_pk   INTEGER NOT NULL REFERENCES participants(pk) ON DELETE CASCADE,
    partner_pk     INTEGER NOT NULL REFERENCES participants(pk) ON DELETE CASCADE,
    message        TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'requested'
                       CHECK (status IN ('requested', 'accepted', 'declined', 'cancelled', 'expired')),
    slot_start     TEXT,                      -- UTC instant of its slot, when placed
    table_name     TEXT,                      -- its table, when placed
    sequence       INTEGER NOT NULL DEFAULT 0,
    held_requester INTEGER,                   -- did it take place, said the requester (NULL: not said)
    held_partner   INTEGER,                   -- ... and the partner
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CHECK (requester_pk != partner_pk),
    CHECK ((slot_start IS NULL) = (table_name IS NULL))
);
-- No two live meetings of one pair, whoever asked whom.
CREATE UNIQUE INDEX IF NOT EXISTS meetings_live_pair
    ON meetings (min(requester_pk, partner_pk), max(requester_pk, partner_pk))
    WHERE status IN ('requested', 'accepted');
-- No table twice in one slot (a cancelled meeting keeps its slot for calendars, but not the table).
CREATE UNIQUE INDEX IF NOT EXISTS meetings_table_slot ON meetings (event_id, slot_start, table_name)
    WHERE slot_start IS NOT NULL AND status = 'accepted';
CREATE INDEX IF NOT EXISTS meetings_by_requester ON meetings (requester_pk, status);
CREATE INDEX IF NOT EXISTS meetings_by_partner ON meetings (partner_pk, status);

-- Every change of a meeting: what happened, who did it (a participant, an admin or the
-- system, e.g. expiry), why, and when.
CREATE TABLE IF NOT EXISTS meeting_log (
    pk          INTEGER PRIMARY KEY,
    meeting_pk  INTEGER NOT NULL REFERENCES meetings(pk) ON DELETE CASCADE,
    what        TEXT NOT NULL,                -- a status, 'placed' or 'moved'
    by_pk       INTEGER REFERENCES participants(pk) ON DELETE SET NULL,
    by_role     TEXT NOT NULL CHECK (by_role IN ('requester', 'partner', 'admin', 'system')),
    reason      TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL                 -- UTC instant
);
CREATE INDEX IF NOT EXISTS meeting_log_by_meeting ON meeting_log (meeting_pk, pk);
