# Shared by the benchmark scripts (load-bench.sh, cpu-bench.sh, soak.sh); sourced, not run. The caller
# defines die() and stops the server on exit.

# start_openframe BIN STORE_URL LOG PASSWORD: starts `BIN serve` on 127.0.0.1:0 with the admin password
# PASSWORD, its stderr in LOG, and waits up to 60 s for its `listening on` line. Sets server_pid and base_url.
start_openframe() {
    local bin=$1 store_url=$2 log=$3 password=$4
    : >"$log"
    OPENFRAME_ADMIN_PASSWORD=$password RUST_LOG=warn \
        "$bin" serve --listen 127.0.0.1:0 --store "$store_url" 2>"$log" >/dev/null &
    server_pid=$!
    base_url=
    for _ in $(seq 1 600); do
        base_url=$(sed -n 's|^openframe: listening on \(http://127\.0\.0\.1:[0-9]*\)$|\1|p' "$log")
        [ -n "$base_url" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; die "the server exited before listening"; }
        sleep 0.1
    done
    cat "$log" >&2
    die "the server did not listen within 60 s"
}

# database_url URL DATABASE: URL (postgres://…/db?params) with its database replaced by DATABASE.
database_url() {
    local url=$1 database=$2 base query=
    base=${url%%\?*}
    [ "$base" != "$url" ] && query="?${url#*\?}"
    echo "${base%/*}/$database$query"
}
