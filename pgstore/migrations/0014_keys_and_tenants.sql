-- Tenants exist once created: "onlinestock tenants create", or with their
-- first API key. A server that authenticates by key serves these and no
-- other name. A reference table on Citus (see citus.go): small, read by
-- every node, written seldom.
CREATE TABLE onlinestock_tenants (
	tenant     text COLLATE "C" PRIMARY KEY,
	created_at timestamptz NOT NULL DEFAULT now()
);
-- Every tenant that has written anything exists already.
INSERT INTO onlinestock_tenants (tenant) SELECT tenant FROM onlinestock_setup ON CONFLICT DO NOTHING;

-- API keys, each bound to one tenant and one role. Only the SHA-256 of a
-- key's secret is kept: the secret itself is shown once, when the key is
-- created. last_used_at moves at most about once a minute per key.
CREATE TABLE onlinestock_api_keys (
	id            text COLLATE "C" PRIMARY KEY,
	tenant        text COLLATE "C" NOT NULL,
	role          text NOT NULL,
	name          text NOT NULL DEFAULT '',
	secret_sha256 bytea NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now(),
	last_used_at  timestamptz,
	revoked_at    timestamptz
);
CREATE INDEX onlinestock_api_keys_by_tenant ON onlinestock_api_keys (tenant, id);
