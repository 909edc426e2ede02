#!/usr/bin/env bash
# Make sure the local services the tests need are running: PostgreSQL, Redis, MariaDB +
# WordPress. Installs them from Debian packages when missing; starts them when stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt_updated=0
need() {  # need <package>...: install Debian packages; their services must not auto-start
    if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
    local made=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    [ "$made" = 1 ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

# PostgreSQL on 127.0.0.1:5432 with trust auth and a database `test`
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    command -v pg_ctlcluster >/dev/null || need postgresql
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start" >&2; exit 1; }
if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
    su postgres -c "psql -c \"CREATE DATABASE test\"" >/dev/null 2>&1 || true
fi

# Redis on 127.0.0.1:6379
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    command -v redis-server >/dev/null || need redis-server
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis did not start" >&2; exit 1; }

# Tools some tests drive: promtool (Prometheus), Chromium with CJK fonts (browser tests)
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    need "${missing[@]}"
fi

# MariaDB + Apache + WordPress on 127.0.0.1:8080 (the project's own idempotent setup)
if [ "${PUBLISHER_SKIP_WORDPRESS:-0}" != 1 ]; then
    bash scripts/setup-wordpress.sh start
fi
