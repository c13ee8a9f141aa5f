# benches/farm_common.sh — sourced by the bench scripts that poll the shared
# feed farm (scale.sh, daemon_memory.sh): the same ports, the same config
# and the same proxy-free environment in each, so their figures compare.
# Expects FARM_DIR (where ../shared/bench/farm.sh keeps the farms).

# rafid and the Python poller talk to the farm on 127.0.0.1 only.
NOPROXY=(env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY -u all_proxy -u ALL_PROXY
         no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost)

# One port per farm size, the same in every run: a farm is generated for its
# URL and cached (farm.sh), so a size that changed port would be generated again.
port_of() { case $1 in 1000) echo 8099;; 10000) echo 8100;; *) echo $((8200 + $1 % 700));; esac; }

# farm_config N NEARDUP DIR: writes DIR/rafid.toml, rafid's defaults but for
# `[poll] concurrency = per_host = 16` (the peers fetch 16 at once and the
# farm is one host), the state in DIR/state, near-duplicates off if NEARDUP
# is `off`, and every feed of the N-feed farm.
farm_config() {
    local n=$1 nd=$2 d=$3
    {
        echo '[server]'; echo 'listen = "127.0.0.1:0"'
        echo '[storage]'; echo "path = \"$d/state\""
        echo '[poll]'; echo 'concurrency = 16'; echo 'per_host = 16'
        if [ "$nd" = off ]; then echo '[dedup]'; echo 'near_duplicates = false'; fi
        while read -r u; do echo '[[feed]]'; echo "url = \"$u\""; done < "$FARM_DIR/$n/urls.txt"
    } > "$d/rafid.toml"
}
