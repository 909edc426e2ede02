#!/usr/bin/env bash
# A local WordPress for the cms channel (tests, demos, benchmarks), from Debian 12 packages.
#
#   scripts/setup-wordpress.sh [start]   install what is missing and start; idempotent, fast when up
#   scripts/setup-wordpress.sh stop      stop Apache (MariaDB is shared with other services: left running)
#
# WordPress 6.1 (Debian) + the MariaDB already running here (started if it is not) + Apache/mod_php,
# bound to http://127.0.0.1:${WP_PORT:-8080} only. Installs the project's must-use plugin
# (channels/cms/mu-plugin/publisher-disclosure.php) and writes ${WP_STATE_DIR}/wp.env with
# WP_URL, WP_USER and WP_APP_PASSWORD (an Application Password, kept across runs while it works).
# Must run as root.
set -euo pipefail

WP_PORT=${WP_PORT:-8080}
WP_URL="http://127.0.0.1:${WP_PORT}"
WP_ADMIN_USER=${WP_ADMIN_USER:-admin}
WP_ADMIN_PASS=${WP_ADMIN_PASS:-Publisher-Admin-123!}
WP_DB_NAME=${WP_DB_NAME:-publisher_wp}
WP_DB_USER=${WP_DB_USER:-publisher_wp}
WP_DB_PASS=${WP_DB_PASS:-publisher-wp-pass}
WP_STATE_DIR=${WP_STATE_DIR:-/var/lib/publisher-wp}
WP_ENV="$WP_STATE_DIR/wp.env"
DB_SOCK=/run/mysqld/mysqld.sock
APACHE_PID=/run/apache2/apache2.pid
WP_CONTENT=/var/lib/wordpress/wp-content
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PLUGIN_SRC="$HERE/../channels/cms/mu-plugin/publisher-disclosure.php"
PLUGIN_DST="$WP_CONTENT/mu-plugins/publisher-disclosure.php"
PACKAGES=(wordpress wordpress-theme-twentytwentyone apache2 libapache2-mod-php php-mysql php-curl php-xml php-mbstring
          mariadb-server mariadb-client curl)
export DEBIAN_FRONTEND=noninteractive

log() { echo "setup-wordpress: $*" >&2; }

alive() {  # the pid file names a live, non-zombie process
    [ -f "$1" ] || return 1
    local p; p=$(cat "$1")
    kill -0 "$p" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null
}

db_up() { mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1; }

creds_work() {  # wp.env exists and its Application Password is accepted by the REST API
    [ -f "$WP_ENV" ] || return 1
    local url user pass
    url=$(sed -n 's/^WP_URL=//p' "$WP_ENV"); user=$(sed -n 's/^WP_USER=//p' "$WP_ENV")
    pass=$(sed -n 's/^WP_APP_PASSWORD=//p' "$WP_ENV")
    [ "$url" = "$WP_URL" ] && [ -n "$pass" ] || return 1
    curl -fsS -m 10 -o /dev/null -u "${user}:${pass}" "${WP_URL}/wp-json/wp/v2/users/me?context=edit"
}

rules_ok() {  # the stored rewrite rules resolve /%postname%/ permalinks
    [ "$(mariadb -uroot -N -e "SELECT option_value LIKE '%index.php?name=\$matches[1]%' FROM \`${WP_DB_NAME}\`.wp_options
        WHERE option_name = 'rewrite_rules'" 2>/dev/null)" = 1 ]
}

theme_ok() {
    [ "$(mariadb -uroot -N -e "SELECT option_value FROM \`${WP_DB_NAME}\`.wp_options
        WHERE option_name = 'stylesheet'" 2>/dev/null)" = twentytwentyone ]
}

if [ "$(id -u)" != 0 ]; then log "must run as root"; exit 1; fi

if [ "${1:-start}" = stop ]; then
    if alive "$APACHE_PID"; then
        apache2ctl stop >/dev/null 2>&1 || kill -TERM "$(cat "$APACHE_PID")"
        for _ in $(seq 1 100); do alive "$APACHE_PID" || break; sleep 0.1; done
    fi
    log "stopped Apache (MariaDB left running: it is shared)"
    exit 0
fi
if [ "${1:-start}" != start ]; then log "usage: $0 [start|stop]"; exit 2; fi

# Several test sessions may call this at once: one at a time.
mkdir -p "$WP_STATE_DIR" /run/lock
exec 9>/run/lock/publisher-wp.lock
flock -w 300 9

# --- fast path: everything already up and current --------------------------------------
if alive "$APACHE_PID" && db_up && cmp -s "$PLUGIN_SRC" "$PLUGIN_DST" \
    && grep -qx "Listen 127.0.0.1:${WP_PORT}" /etc/apache2/ports.conf 2>/dev/null && theme_ok && rules_ok && creds_work; then
    log "WordPress already up at ${WP_URL}; credentials in ${WP_ENV}"
    exit 0
fi

# --- 1. packages: services must not auto-start (nothing may bind outside 127.0.0.1) --------
if ! dpkg -s "${PACKAGES[@]}" >/dev/null 2>&1; then
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
    fi
    log "installing packages (apt-get)"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
    if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl stop apache2 2>/dev/null || true
        systemctl disable apache2 2>/dev/null || true
    fi
fi

# --- 2. MariaDB: reuse the running server, start it only when none answers ---------------
if ! db_up; then
    log "starting MariaDB"
    install -d -o mysql -g mysql /run/mysqld
    start-stop-daemon --start --oknodo --background --chuid mysql:mysql --exec /usr/sbin/mariadbd 9>&-
    for _ in $(seq 1 150); do db_up && break; sleep 0.2; done
    db_up || { log "MariaDB did not start"; exit 1; }
fi
mariadb -uroot <<SQL
CREATE DATABASE IF NOT EXISTS \`${WP_DB_NAME}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '${WP_DB_USER}'@'localhost' IDENTIFIED BY '${WP_DB_PASS}';
GRANT ALL PRIVILEGES ON \`${WP_DB_NAME}\`.* TO '${WP_DB_USER}'@'localhost';
SQL

# --- 3. WordPress config (Debian reads /etc/wordpress/config-<host>.php, else config-default.php)
cat > /etc/wordpress/config-default.php.new <<PHP
<?php
define('DB_NAME', '${WP_DB_NAME}');
define('DB_USER', '${WP_DB_USER}');
define('DB_PASSWORD', '${WP_DB_PASS}');
define('DB_HOST', 'localhost:${DB_SOCK}');
define('WP_HOME', '${WP_URL}');
define('WP_SITEURL', '${WP_URL}');
define('WP_ENVIRONMENT_TYPE', 'local');   // Application Passwords over plain http need 'local'
define('WP_CONTENT_DIR', '${WP_CONTENT}');
define('FS_METHOD', 'direct');
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);   // no internet here: fail fast instead of timing out
foreach (array('AUTH_KEY','SECURE_AUTH_KEY','LOGGED_IN_KEY','NONCE_KEY',
               'AUTH_SALT','SECURE_AUTH_SALT','LOGGED_IN_SALT','NONCE_SALT') as \$k)
    define(\$k, 'publisher-local-' . \$k);
PHP
chgrp www-data /etc/wordpress/config-default.php.new; chmod 640 /etc/wordpress/config-default.php.new
mv /etc/wordpress/config-default.php.new /etc/wordpress/config-default.php

install -d -o www-data -g www-data "$WP_CONTENT/mu-plugins" "$WP_CONTENT/uploads"
install -m 644 -o www-data -g www-data "$PLUGIN_SRC" "$PLUGIN_DST"

# --- 4. Apache: only 127.0.0.1:$WP_PORT; pretty permalinks via FallbackResource ---------------
echo "Listen 127.0.0.1:${WP_PORT}" > /etc/apache2/ports.conf
echo 'ServerName 127.0.0.1' > /etc/apache2/conf-available/servername.conf
cat > /etc/apache2/sites-available/publisher-wp.conf <<APACHE
<VirtualHost 127.0.0.1:${WP_PORT}>
    ServerName 127.0.0.1
    DocumentRoot /usr/share/wordpress
    Alias /wp-content ${WP_CONTENT}
    <Directory /usr/share/wordpress>
        Options FollowSymLinks
        AllowOverride None
        Require all granted
        DirectoryIndex index.php
        FallbackResource /index.php
    </Directory>
    <Directory ${WP_CONTENT}>
        Options FollowSymLinks
        Require all granted
    </Directory>
    ErrorLog \${APACHE_LOG_DIR}/publisher-wp-error.log
    CustomLog \${APACHE_LOG_DIR}/publisher-wp-access.log combined
</VirtualHost>
APACHE
a2dissite -q 000-default >/dev/null 2>&1 || true
a2enconf -q servername >/dev/null
a2ensite -q publisher-wp >/dev/null
php_mod=$(basename "$(ls /etc/apache2/mods-available/php*.load | head -1)" .load)
a2enmod -q "$php_mod" >/dev/null 2>&1 || true
apache2ctl configtest 2>/dev/null
# 9>&-: the daemon must not inherit the lock, or it holds it for as long as it runs
if alive "$APACHE_PID"; then apache2ctl graceful 9>&-; else apache2ctl start 9>&-; fi
for _ in $(seq 1 100); do curl -fs -m 2 -o /dev/null "${WP_URL}/wp-includes/images/blank.gif" && break; sleep 0.2; done

# --- 5. install WordPress, permalinks, Application Password (PHP CLI, idempotent) -------------
if creds_work; then keep_password=1; else keep_password=0; fi
WP_HOST="127.0.0.1:${WP_PORT}" WP_ADMIN_USER="$WP_ADMIN_USER" WP_ADMIN_PASS="$WP_ADMIN_PASS" \
KEEP_PASSWORD="$keep_password" php -d display_errors=stderr > "$WP_STATE_DIR/bootstrap.out" <<'PHP'
<?php
$_SERVER['HTTP_HOST'] = getenv('WP_HOST'); $_SERVER['REQUEST_URI'] = '/'; $_SERVER['SERVER_NAME'] = '127.0.0.1';
define('WP_INSTALLING', true);
function wp_new_blog_notification() {}   // pluggable; there is no sendmail here
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$user = getenv('WP_ADMIN_USER'); $pass = getenv('WP_ADMIN_PASS');
if (!is_blog_installed()) {
    wp_install('上海市财政局（本地测试站点）', $user, 'admin@example.test', false, '', wp_slash($pass));
}
// A classic theme: the public page is server-rendered HTML with the post title in it.
if (get_stylesheet() !== 'twentytwentyone' && wp_get_theme('twentytwentyone')->exists()) switch_theme('twentytwentyone');
if (get_option('permalink_structure') !== '/%postname%/') update_option('permalink_structure', '/%postname%/');
// This process's $wp_rewrite was built before the structure changed: flushing here would
// store the rules of the old structure (every permalink 404s). Dropping them makes the next
// web request rebuild them from the stored structure.
if (strpos(serialize(get_option('rewrite_rules')), 'index.php?name=$matches[1]') === false) delete_option('rewrite_rules');
if (getenv('KEEP_PASSWORD') === '1') exit(0);
$u = get_user_by('login', $user);
foreach (WP_Application_Passwords::get_user_application_passwords($u->ID) as $item) {
    if ($item['name'] === 'publisher') WP_Application_Passwords::delete_application_password($u->ID, $item['uuid']);
}
$created = WP_Application_Passwords::create_new_application_password($u->ID, array('name' => 'publisher'));
if (is_wp_error($created)) { fwrite(STDERR, $created->get_error_message() . "\n"); exit(1); }
echo 'WP_APP_PASSWORD=' . $created[0] . "\n";
PHP
if [ "$keep_password" = 0 ]; then
    umask 077
    {
        echo "WP_URL=${WP_URL}"
        echo "WP_USER=${WP_ADMIN_USER}"
        cat "$WP_STATE_DIR/bootstrap.out"
    } > "$WP_ENV.new"
    mv "$WP_ENV.new" "$WP_ENV"
fi
rm -f "$WP_STATE_DIR/bootstrap.out"
curl -fsS -m 30 -o /dev/null "${WP_URL}/" || true  # rebuilds the rewrite rules when they were dropped
rules_ok || { log "pretty permalinks are not active (rewrite_rules lack the /%postname%/ rule)"; exit 1; }

# --- 6. smoke test over REST with the Application Password ----------------------------------
creds_work || { log "REST smoke test with the Application Password failed"; exit 1; }
log "WordPress ready at ${WP_URL} (apache2 pid $(cat "$APACHE_PID")); credentials in ${WP_ENV}"
