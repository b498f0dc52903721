#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for apirun's tests (CI and local).
#
#   eval "$(.ci/postgres.sh start)"   # prints `export APIRUN_TEST_POSTGRES_URL=...` and friends
#   cargo test --workspace            # the PostgreSQL store tests now run (and must pass)
#   .ci/postgres.sh stop              # stops the server and removes its folder
#
# `start` installs Debian's `postgresql` package when no server binaries are found (as root;
# otherwise it says what to install), creates a cluster in a new temporary folder with
# `initdb` (as the `postgres` user when run as root: the server refuses to run as root),
# requires passwords on TCP (scram-sha-256, so wrong-password tests mean something), serves TLS
# with a certificate of a throwaway CA when `openssl` is there, and listens on 127.0.0.1 on a
# free port only. Everything it prints on stdout is shell to eval; progress goes to stderr.
#
# Variables exported by `start`:
#   APIRUN_TEST_POSTGRES_URL  superuser URL (sslmode=disable), database `postgres`
#   APIRUN_TEST_POSTGRES_DIR  the cluster's folder, which `stop` removes
#   APIRUN_TEST_POSTGRES_CA   the CA certificate of the server's TLS certificate (for
#                             sslmode=verify-*; the certificate names `localhost`)
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

install_postgres() {
    if [ "$(id -u)" != 0 ]; then
        log "no PostgreSQL server found; install it (Debian: sudo apt-get install postgresql) and retry"
        exit 1
    fi
    log "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql >&2
}

# Run a command as the cluster's owner: ourselves, or `postgres` when we are root.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

make_tls() {
    local data=$1 dir=$2
    command -v openssl >/dev/null 2>&1 || return 1
    local ext="$dir/server.ext"
    printf '%s\n' "subjectAltName=DNS:localhost" "basicConstraints=CA:FALSE" \
        "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$ext"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=apirun test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null || return 1
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=localhost" -keyout "$data/server.key" -out "$dir/server.csr" 2>/dev/null || return 1
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 2 -extfile "$ext" -out "$data/server.crt" 2>/dev/null || return 1
    rm -f "$dir/ca.key" "$dir/server.csr" "$dir/ca.srl" "$ext"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$data/server.key" "$data/server.crt"; fi
    chmod 600 "$data/server.key"
    chmod 644 "$dir/ca.pem"
}

start() {
    local bin
    if ! bin=$(bindir); then
        install_postgres
        bin=$(bindir) || { log "PostgreSQL was installed but initdb is not found"; exit 1; }
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/apirun-pg.XXXXXX")
    # On failure, leave nothing behind.
    trap 'as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"' ERR
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    chmod 755 "$dir"
    local password
    password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    (umask 077 && printf '%s\n' "$password" >"$dir/pwfile")
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/pwfile"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --no-locale -E UTF8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; false; }
    rm -f "$dir/pwfile"

    local tls_opts="" ca=""
    if make_tls "$dir/data" "$dir"; then
        tls_opts="-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key"
        ca="$dir/ca.pem"
    else
        log "openssl not available: the server runs without TLS"
    fi

    local port="" try
    for try in 1 2 3 4 5 6 7 8; do
        local candidate=$((20000 + RANDOM % 20000))
        port_is_free "$candidate" || continue
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $candidate -k $dir -c max_connections=300 \
                -c fsync=off -c synchronous_commit=off -c full_page_writes=off $tls_opts" \
            start >&2; then
            port=$candidate
            break
        fi
        log "could not start on port $candidate (try $try)"
        tail -n 5 "$dir/server.log" >&2 || true
    done
    [ -n "$port" ] || { log "PostgreSQL did not start"; false; }
    trap - ERR
    log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, cluster in $dir"
    echo "export APIRUN_TEST_POSTGRES_URL='postgres://postgres:$password@127.0.0.1:$port/postgres?sslmode=disable'"
    echo "export APIRUN_TEST_POSTGRES_DIR='$dir'"
    if [ -n "$ca" ]; then echo "export APIRUN_TEST_POSTGRES_CA='$ca'"; fi
}

stop() {
    local dir=${1:-${APIRUN_TEST_POSTGRES_DIR:-}}
    if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
        log "no cluster to stop (give its folder or set APIRUN_TEST_POSTGRES_DIR)"
        return 0
    fi
    case "$dir" in
        */apirun-pg.*) ;;
        *) log "refusing to remove $dir: not a folder made by this script"; return 1 ;;
    esac
    local bin
    if bin=$(bindir); then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    fi
    rm -rf "$dir"
    log "stopped and removed $dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    *)
        echo "usage: $0 start | stop [DIR]" >&2
        exit 2
        ;;
esac
