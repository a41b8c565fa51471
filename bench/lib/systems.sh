# systems.sh -- sets up and starts the three systems of bench/run, each on
# its own free 127.0.0.1 port with its state in the run's temp dir $WORK,
# each with the equivalent confidential client $CLIENT_ID / $CLIENT_SECRET
# (client_secret_basic, client_credentials, scope `all`) and RS256 JWT
# access tokens. Sourced, never run. Every start goes through start_server
# (common.sh), so the EXIT trap stops it.
# shellcheck disable=SC2034 # the FA_/OP_/GL_ variables are read by bench/run

# ---- flyteauth -------------------------------------------------------------

# serve refuses to run as root unless told to; the bench may run as root
# in a container.
FA_SERVE_FLAGS=
[ "$(id -u)" = 0 ] && FA_SERVE_FLAGS=--allow-root

# flyteauth_base_config DIR PORT [DATABASE [ISSUER_PORT]] -> the start of
# every instance's YAML: the listener, SQLite in DIR (or the database.*
# block DATABASE), secrets in DIR, and authorizedUris. Instances of one
# system share ISSUER_PORT (default PORT): one issuer, as behind a load
# balancer.
flyteauth_base_config() {
	local db=${3:-"{sqlite: {file: $1/flyteauth.db}}"} iport=${4:-$2}
	cat <<EOF
server:
  httpPort: $2
  bindAddress: 127.0.0.1
  bcryptWorkers: ${FA_BCRYPT_WORKERS:-0}
  security: {secure: false, insecureCookieHeader: true}
database: $db
secrets: {secrets-prefix: $1, env-prefix: FLYTE_SECRET_BENCH_UNUSED_}
auth:
  authorizedUris: [http://127.0.0.1:$iport]
EOF
}

# flyteauth_config DIR PORT ALG CLIENT_HASH USER_HASH [DATABASE [ISSUER_PORT]]
# -> YAML on stdout. A Self authorization server, the bench's confidential
# client, flytectl (public, PKCE) for the login and device flows, two local
# users (bcrypt cost 6, and the default cost for login_cost10).
flyteauth_config() {
	local dir=$1 port=$2 alg=$3 client_hash=$4 user_hash=$5 iport=${7:-$2}
	flyteauth_base_config "$dir" "$port" "${6:-}" "${7:-}"
	cat <<EOF
  userAuth:
    localUsers:
      - {username: $USER_NAME, passwordHash: "$user_hash", name: Bench User, email: bench@example.com}
      - {username: $USER10_NAME, passwordHash: "$FA_USER10_HASH", name: Bench User 10, email: bench10@example.com}
  appAuth:
    authServerType: Self
    selfAuthServer:
      issuer: http://127.0.0.1:$iport
      tokenSigningAlgorithm: $alg
      devicePollInterval: 1s
      # The login and device rows send every flow from 127.0.0.1 through
      # the one client flytectl, far past the default per-address and
      # per-client admission rates (a flood defence, issue 9): raised here
      # so that the rows measure the server's work, not its policy.
      maxPendingDeviceCodes: 1000000
      maxPendingAuthorizationRequests: 1000000
      rateLimits:
        authorizePerAddress: {burst: 1000000, perMinute: 6000000}
        authorizePerClient: {burst: 1000000, perMinute: 6000000}
        devicePerAddress: {burst: 1000000, perMinute: 6000000}
        devicePerClient: {burst: 1000000, perMinute: 6000000}
      staticClients:
        $CLIENT_ID:
          id: $CLIENT_ID
          client_secret: "$client_hash"
          redirect_uris: [http://localhost:3846/callback]
          grant_types: [client_credentials]
          response_types: [token]
          scopes: [all]
          public: false
        # The target of the wrong-secret flood (bench/lib/flood.mjs): a
        # second confidential client, its secret hashed at cost 10 too.
        bench-victim:
          id: bench-victim
          client_secret: "$client_hash"
          redirect_uris: [http://localhost:3846/callback]
          grant_types: [client_credentials]
          response_types: [token]
          scopes: [all]
          public: false
        flytectl:
          id: flytectl
          redirect_uris: [$REDIRECT_URI]
          grant_types: [authorization_code, refresh_token, "urn:ietf:params:oauth:grant-type:device_code"]
          response_types: [code]
          scopes: [all, offline]
          public: true
EOF
}

# prepare_flyteauth NAME ALG -- a fresh state dir $WORK/NAME with its
# secrets and config.yaml (server.bcryptWorkers from FA_BCRYPT_WORKERS, 0:
# the default) on a free port; sets FA_PORT. Starts nothing.
prepare_flyteauth() {
	local dir="$WORK/$1"
	mkdir -p "$dir"
	"$FLYTEAUTH_BIN" secrets init -p "$dir" >/dev/null
	if [ "$2" = ES256 ]; then
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
			-out "$dir/token_rsa_key.pem" 2>/dev/null
		chmod 600 "$dir/token_rsa_key.pem"
	fi
	FA_PORT=$(free_port)
	flyteauth_config "$dir" "$FA_PORT" "$2" "$FA_CLIENT_HASH" "$FA_USER_HASH" >"$dir/config.yaml"
}

# start_flyteauth NAME ALG -- sets FA_URL, FA_PID, FA_FIRST_START_MS (a
# fresh state dir: the database is created and per-installation secrets are
# generated) and FA_STARTUP_MS / FA_STARTUP_RUNS (the median of 5 restarts
# on that state, the usual case).
# Secrets from `flyteauth secrets init`; for ES256 the token key secret is
# replaced by an EC P-256 key from openssl.
start_flyteauth() {
	local name=$1 alg=$2 dir="$WORK/$1" port
	prepare_flyteauth "$name" "$alg"
	port=$FA_PORT
	start_server "$name" "http://127.0.0.1:$port/healthcheck" -- \
		"$FLYTEAUTH_BIN" serve $FA_SERVE_FLAGS --config "$dir/config.yaml"
	FA_FIRST_START_MS=$STARTUP_MS
	stop_server "$SERVER_PID"
	start_timed "$name" "http://127.0.0.1:$port/healthcheck" 5 -- \
		"$FLYTEAUTH_BIN" serve $FA_SERVE_FLAGS --config "$dir/config.yaml"
	FA_URL="http://127.0.0.1:$port"
	FA_PID=$SERVER_PID
	FA_STARTUP_MS=$STARTUP_MS
	FA_STARTUP_RUNS=$STARTUP_RUNS
}

# ---- PostgreSQL and flyteauth instances on it ----------------------------------

# start_postgres -- a throwaway PostgreSQL (Debian's) in its own temp dir
# PG_DIR (the postgres user cannot enter $WORK; bench/run removes both) on
# a free 127.0.0.1 port, with its default durability (fsync on: what a real
# deployment pays per commit). As root it runs as the postgres user
# (setpriv execs in place, so the PID recorded is the postmaster's). Sets
# PG_PORT, PG_PID and PG_PASSWORD_FILE; stopped by stop_all like the rest.
start_postgres() {
	local bin dir as=() i
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[ -x "$bin/postgres" ] || die "PostgreSQL server binaries missing (apt-get install postgresql)"
	PG_DIR=$(mktemp -d /tmp/flyteauth-bench-pg.XXXXXX)
	dir=$PG_DIR
	openssl rand -hex 16 >"$dir/pw"
	chmod 600 "$dir/pw"
	cp "$dir/pw" "$WORK/pgpass"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres:postgres "$dir"
		as=(setpriv --reuid=postgres --regid=postgres --init-groups)
	fi
	"${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust \
		--auth-host=scram-sha-256 --pwfile "$dir/pw" -E UTF8 --no-locale \
		>"$WORK/pg-initdb.log" 2>&1 || die "initdb failed (see $WORK/pg-initdb.log)"
	PG_PORT=$(free_port)
	setsid "${as[@]}" "$bin/postgres" -D "$dir/data" -p "$PG_PORT" -k "$dir" \
		-c listen_addresses=127.0.0.1 >>"$WORK/pg.log" 2>&1 &
	PG_PID=$!
	STARTED_PIDS+=("$PG_PID")
	for i in $(seq 300); do
		"$bin/pg_isready" -q -h "$dir" -p "$PG_PORT" && break
		kill -0 "$PG_PID" 2>/dev/null || die "postgres exited (see $WORK/pg.log)"
		sleep 0.1
	done
	"$bin/pg_isready" -q -h "$dir" -p "$PG_PORT" || die "postgres did not come up"
	PG_PASSWORD_FILE="$WORK/pgpass"
	say "postgres up: pid $PG_PID, port $PG_PORT"
}

# start_flyteauth_pg NAME N -- N instances of flyteauth (RS256) on the
# PostgreSQL of start_postgres, sharing one secrets dir and one issuer.
# Sets FAPG_URLS ("URL,URL,..."), FAPG_PIDS ("PID,PID,...") and FAPG_ADDRS
# ("127.0.0.1:PORT,...").
start_flyteauth_pg() {
	local name=$1 n=$2 dir="$WORK/$1" i port first="" db
	mkdir -p "$dir"
	"$FLYTEAUTH_BIN" secrets init -p "$dir" >/dev/null
	db="{postgres: {host: 127.0.0.1, port: $PG_PORT, dbname: postgres, username: postgres, passwordPath: $PG_PASSWORD_FILE, options: 'sslmode=disable'}}"
	FAPG_URLS="" FAPG_PIDS="" FAPG_ADDRS=""
	for ((i = 1; i <= n; i++)); do
		port=$(free_port)
		first=${first:-$port}
		flyteauth_config "$dir" "$port" RS256 "$FA_CLIENT_HASH" "$FA_USER_HASH" "$db" "$first" \
			>"$dir/config-$i.yaml"
		start_server "$name-$i" "http://127.0.0.1:$port/readyz" -- \
			"$FLYTEAUTH_BIN" serve $FA_SERVE_FLAGS --config "$dir/config-$i.yaml"
		FAPG_URLS+="${FAPG_URLS:+,}http://127.0.0.1:$port"
		FAPG_PIDS+="${FAPG_PIDS:+,}$SERVER_PID"
		FAPG_ADDRS+="${FAPG_ADDRS:+,}127.0.0.1:$port"
	done
}

# start_flyteauth_external NAME AS_URL -- a flyteauth in External mode in
# front of the authorization server at AS_URL (node-oidc-provider, whose
# RS256 JWT access tokens are for urn:bench:api): sets FX_URL and FX_PID.
start_flyteauth_external() {
	local name=$1 as=$2 dir="$WORK/$1" port
	mkdir -p "$dir"
	"$FLYTEAUTH_BIN" secrets init -p "$dir" >/dev/null
	port=$(free_port)
	{ flyteauth_base_config "$dir" "$port"; cat <<EOF
  appAuth:
    authServerType: External
    externalAuthServer:
      baseUrl: $as
      metadataUrl: .well-known/openid-configuration
      allowedAudience: [urn:bench:api]
EOF
	} >"$dir/config.yaml"
	start_server "$name" "http://127.0.0.1:$port/healthcheck" -- \
		"$FLYTEAUTH_BIN" serve $FA_SERVE_FLAGS --config "$dir/config.yaml"
	FX_URL="http://127.0.0.1:$port"
	FX_PID=$SERVER_PID
}

# ---- node-oidc-provider ------------------------------------------------------

# start_oidc_provider -- sets OP_URL, OP_PID, OP_STARTUP_MS (median of 3).
start_oidc_provider() {
	local port
	port=$(free_port)
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
		-out "$WORK/oidc-provider-key.pem" 2>/dev/null
	PORT=$port KEY="$WORK/oidc-provider-key.pem" NODE_ENV=production \
		start_timed oidc-provider "http://127.0.0.1:$port/healthcheck" 3 -- \
		node "$BENCH_DIR/peers/oidc-provider.mjs"
	OP_URL="http://127.0.0.1:$port"
	OP_PID=$SERVER_PID
	OP_STARTUP_MS=$STARTUP_MS
	OP_STARTUP_RUNS=$STARTUP_RUNS
}

# ---- glewlwyd ------------------------------------------------------------------

# start_glewlwyd -- sets GL_URL, GL_PID, GL_STARTUP_MS (median of 3 starts
# on its initialised database), then configures it
# through its admin API (the packaged admin/password of the init script):
# the OIDC plugin "oidc" (RS256, client_credentials, introspection by a
# bearer token with scope `introspect`), the scopes, and the client.
start_glewlwyd() {
	local dir="$WORK/glewlwyd" port api jar
	mkdir -p "$dir"
	zcat /usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz | sqlite3 "$dir/glewlwyd.db"
	port=$(free_port)
	sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" \
		"$BENCH_DIR/peers/glewlwyd.conf.in" >"$dir/glewlwyd.conf"
	start_timed glewlwyd "http://127.0.0.1:$port/config" 3 -- \
		glewlwyd --config="$dir/glewlwyd.conf"
	GL_URL="http://127.0.0.1:$port"
	GL_PID=$SERVER_PID
	GL_STARTUP_MS=$STARTUP_MS
	GL_STARTUP_RUNS=$STARTUP_RUNS

	api="$GL_URL/api"
	jar="$dir/admin.cookies"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/key.pem" 2>/dev/null
	openssl pkey -in "$dir/key.pem" -pubout -out "$dir/pub.pem" 2>/dev/null
	gl_admin() { # METHOD PATH JSON
		local code
		code=$(curl -s -o "$dir/admin.out" -w '%{http_code}' -b "$jar" -c "$jar" \
			-X "$1" -H 'content-type: application/json' -d "$3" "$api$2")
		[ "$code" = 200 ] || die "glewlwyd admin $1 $2: HTTP $code $(head -c 300 "$dir/admin.out")"
	}
	gl_admin POST /auth/ '{"username":"admin","password":"password"}'
	gl_admin POST /scope/ '{"name":"all","display_name":"all","description":"Flyte blanket scope","password_required":false,"scheme":{}}'
	gl_admin POST /scope/ '{"name":"introspect","display_name":"introspect","description":"token introspection","password_required":false,"scheme":{}}'
	gl_admin POST /mod/plugin/ "$(jq -n --rawfile key "$dir/key.pem" --rawfile cert "$dir/pub.pem" \
		--arg iss "$api/oidc" '{
		module: "oidc", name: "oidc", display_name: "OpenID Connect",
		parameters: {
			iss: $iss, "jwt-type": "rsa", "jwt-key-size": "256", key: $key, cert: $cert,
			"access-token-duration": 1800, "refresh-token-duration": 3600, "code-duration": 300,
			"refresh-token-rolling": true, "allow-non-oidc": true,
			"auth-type-code-enabled": true, "auth-type-token-enabled": false,
			"auth-type-none-enabled": false, "auth-type-password-enabled": false,
			"auth-type-client-enabled": true, "auth-type-refresh-enabled": true,
			"introspection-revocation-allowed": true,
			"introspection-revocation-auth-scope": ["introspect"],
			scope: [{name: "all", "refresh-token-rolling": true}]
		}}')"
	gl_admin POST /client/ "$(jq -n --arg id "$CLIENT_ID" --arg pw "$CLIENT_SECRET" '{
		client_id: $id, name: $id, confidential: true, password: $pw, enabled: true,
		scope: ["all", "introspect"], authorization_type: ["client_credentials"],
		token_endpoint_auth_method: ["client_secret_basic"], redirect_uri: []}')"
	rm -f "$jar"
}
