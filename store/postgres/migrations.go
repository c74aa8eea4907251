package postgres

// migrations are applied in order; migration i brings the schema to version
// i+1. Never edit one that has shipped: append a new one.
var migrations = []string{
	// 1: links, sealed tokens, cursors, sync status, leases.
	`
CREATE TABLE links (
	id               text PRIMARY KEY,
	provider         text NOT NULL,
	external_user_id text NOT NULL,
	legacy_user_id   text NOT NULL,
	patient          text NOT NULL,
	scopes           text[] NOT NULL,
	data_types       text[] NOT NULL,
	time_zone        text NOT NULL,
	frequency        text NOT NULL,
	status           text NOT NULL,
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL
);
CREATE INDEX links_by_external_user ON links (provider, external_user_id);
CREATE INDEX links_by_patient ON links (patient, id);

CREATE TABLE tokens (
	link_id       text PRIMARY KEY,
	access_token  text NOT NULL,
	refresh_token text NOT NULL,
	token_type    text NOT NULL,
	expiry        timestamptz,
	scope         text NOT NULL,
	updated_at    timestamptz NOT NULL
);
COMMENT ON COLUMN tokens.access_token IS 'AES-256-GCM sealed, key id prefixed, bound to link and field';
COMMENT ON COLUMN tokens.refresh_token IS 'AES-256-GCM sealed, key id prefixed, bound to link and field';

CREATE TABLE cursors (
	link_id   text NOT NULL,
	data_type text NOT NULL,
	at_ns     bigint NOT NULL,
	PRIMARY KEY (link_id, data_type)
);

CREATE TABLE sync_status (
	link_id              text NOT NULL,
	data_type            text NOT NULL,
	last_attempt         timestamptz,
	last_success         timestamptz,
	last_error_at        timestamptz,
	last_error_kind      text NOT NULL DEFAULT '',
	last_error           text NOT NULL DEFAULT '',
	successes            bigint NOT NULL DEFAULT 0,
	failures             bigint NOT NULL DEFAULT 0,
	consecutive_failures bigint NOT NULL DEFAULT 0,
	items                bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (link_id, data_type)
);

CREATE TABLE leases (
	name          text PRIMARY KEY,
	holder        text NOT NULL,
	expires_at_ns bigint NOT NULL
);
`,
	// 2 (issue 17, consent): the patient connect flows (one-time pages and
	// OAuth states, bound to a browser). Kept apart from the other tables'
	// migrations so that branches merge by renumbering.
	`
CREATE TABLE connect_flows (
	id          text PRIMARY KEY,
	link_id     text NOT NULL,
	provider    text NOT NULL,
	data_types  text[] NOT NULL,
	success_url text NOT NULL,
	error_url   text NOT NULL,
	created_at  timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL,
	opened_at   timestamptz,
	browser     text NOT NULL DEFAULT '',
	consumed_at timestamptz
);
CREATE INDEX connect_flows_by_expiry ON connect_flows (expires_at);
COMMENT ON COLUMN connect_flows.id IS 'SHA-256 of the connect URL secret, never the secret';
COMMENT ON COLUMN connect_flows.browser IS 'SHA-256 of the binding cookie of the browser that opened the page';
`,
	// 3 (issue 19, link status): samples read per (link, data type); the
	// initial sync's state.
	`
ALTER TABLE sync_status ADD COLUMN samples bigint NOT NULL DEFAULT 0;

CREATE TABLE initial_syncs (
	link_id     text PRIMARY KEY,
	state       text NOT NULL,
	job_id      text NOT NULL,
	error_kind  text NOT NULL,
	attempts    integer NOT NULL,
	started_at  timestamptz,
	finished_at timestamptz,
	updated_at  timestamptz NOT NULL
);
`,
	// 4 (issue 19, events): the event outbox.
	`
CREATE TABLE event_outbox (
	seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id              text NOT NULL UNIQUE,
	type            text NOT NULL,
	link_id         text NOT NULL,
	payload         bytea NOT NULL,
	created_at      timestamptz NOT NULL,
	state           text NOT NULL,
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz,
	last_attempt_at timestamptz,
	last_error      text NOT NULL DEFAULT '',
	delivered_at    timestamptz
);
CREATE INDEX event_outbox_due ON event_outbox (state, next_attempt_at);
CREATE INDEX event_outbox_by_link ON event_outbox (link_id, seq);
COMMENT ON COLUMN event_outbox.payload IS 'the event JSON: ids, states, counts and error kinds; never a health value or token';
`,
}
