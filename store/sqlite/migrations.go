package sqlite

// migrations are applied in order; migration i brings the schema to version
// i+1. Never edit one that has shipped: append a new one.
var migrations = []string{
	// 1: links, sealed tokens, cursors, sync status, leases.
	`
CREATE TABLE links (
	id               TEXT PRIMARY KEY,
	provider         TEXT NOT NULL,
	external_user_id TEXT NOT NULL,
	legacy_user_id   TEXT NOT NULL,
	patient          TEXT NOT NULL,
	scopes           TEXT NOT NULL,
	data_types       TEXT NOT NULL,
	time_zone        TEXT NOT NULL,
	frequency        TEXT NOT NULL,
	status           TEXT NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX links_by_external_user ON links (provider, external_user_id);
CREATE INDEX links_by_patient ON links (patient, id);

CREATE TABLE tokens (
	link_id       TEXT PRIMARY KEY,
	access_token  TEXT NOT NULL,
	refresh_token TEXT NOT NULL,
	token_type    TEXT NOT NULL,
	expiry        INTEGER,
	scope         TEXT NOT NULL,
	updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE cursors (
	link_id   TEXT NOT NULL,
	data_type TEXT NOT NULL,
	at        INTEGER NOT NULL,
	PRIMARY KEY (link_id, data_type)
) STRICT, WITHOUT ROWID;

CREATE TABLE sync_status (
	link_id              TEXT NOT NULL,
	data_type            TEXT NOT NULL,
	last_attempt         INTEGER,
	last_success         INTEGER,
	last_error_at        INTEGER,
	last_error_kind      TEXT NOT NULL,
	last_error           TEXT NOT NULL,
	successes            INTEGER NOT NULL,
	failures             INTEGER NOT NULL,
	consecutive_failures INTEGER NOT NULL,
	items                INTEGER NOT NULL,
	PRIMARY KEY (link_id, data_type)
) STRICT, WITHOUT ROWID;

CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`,
	// 2 (issue 17, consent): the patient connect flows (one-time pages and
	// OAuth states, bound to a browser). Kept apart from the other tables'
	// migrations so that branches merge by renumbering.
	`
CREATE TABLE connect_flows (
	id          TEXT PRIMARY KEY,
	link_id     TEXT NOT NULL,
	provider    TEXT NOT NULL,
	data_types  TEXT NOT NULL,
	success_url TEXT NOT NULL,
	error_url   TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	opened_at   INTEGER,
	browser     TEXT NOT NULL,
	consumed_at INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX connect_flows_by_expiry ON connect_flows (expires_at);
`,
	// 3 (issue 19, link status): samples read per (link, data type); the
	// initial sync's state.
	`
ALTER TABLE sync_status ADD COLUMN samples INTEGER NOT NULL DEFAULT 0;

CREATE TABLE initial_syncs (
	link_id     TEXT PRIMARY KEY,
	state       TEXT NOT NULL,
	job_id      TEXT NOT NULL,
	error_kind  TEXT NOT NULL,
	attempts    INTEGER NOT NULL,
	started_at  INTEGER,
	finished_at INTEGER,
	updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`,
	// 4 (issue 19, events): the event outbox.
	`
CREATE TABLE event_outbox (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT,
	id              TEXT NOT NULL UNIQUE,
	type            TEXT NOT NULL,
	link_id         TEXT NOT NULL,
	payload         BLOB NOT NULL,
	created_at      INTEGER NOT NULL,
	state           TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER,
	last_attempt_at INTEGER,
	last_error      TEXT NOT NULL DEFAULT '',
	delivered_at    INTEGER
) STRICT;
CREATE INDEX event_outbox_due ON event_outbox (state, next_attempt_at);
CREATE INDEX event_outbox_by_link ON event_outbox (link_id, seq);
`,
}
