<?php
/**
 * Plugin Name: Publisher disclosure metadata
 * Description: Registers the disclosure metadata the publisher service writes (索取号, 文号, 印发日期, 发文机关, 有效性, item uid) as REST post meta, and lets it find its own posts by item uid.
 * Version: 3.0.0
 *
 * Install as a must-use plugin: copy this file into wp-content/mu-plugins/ (see docs/cms-wordpress.md).
 *
 * Why it exists: WordPress silently ignores post meta that is not registered with
 * show_in_rest, and its REST API has no way to query posts by a meta value. Without the
 * lookup, a retry after a lost response would create a second post.
 */

defined('ABSPATH') || exit;

/** Meta key => REST type. Values are public (they are printed on the page anyway). */
function publisher_disclosure_meta_keys() {
    return array(
        'publisher_uid'       => 'string',   // the item's uid in the publisher service
        'publisher_version'   => 'integer',  // the item version this post shows
        'index_number'        => 'string',   // 索取号
        'doc_number'          => 'string',   // 文号
        'issue_date'          => 'string',   // 印发日期 (ISO date)
        'issuing_body'        => 'string',   // 发文机关
        'validity'            => 'string',   // 有效性: 有效 / 已废止 / 已失效 / 已修订
        'validity_changed_on' => 'string',   // ISO date the validity changed, or ''
    );
}

add_action('init', function () {
    foreach (publisher_disclosure_meta_keys() as $key => $type) {
        register_post_meta('post', $key, array(
            'type'          => $type,
            'single'        => true,
            'show_in_rest'  => true,
            'auth_callback' => function ($allowed, $meta_key, $post_id) {
                return current_user_can('edit_post', $post_id);
            },
        ));
    }
});

// Declare the query parameter so REST validates it and lists it in the schema.
add_filter('rest_post_collection_params', function ($params) {
    $params['publisher_uid'] = array(
        'description' => 'Limit result set to posts of this publisher item uid.',
        'type'        => 'string',
    );
    return $params;
});

add_filter('rest_post_query', function ($args, $request) {
    $uid = $request->get_param('publisher_uid');
    if (!is_string($uid) || $uid === '') {
        return $args;
    }
    $args['meta_query'] = array(array('key' => 'publisher_uid', 'value' => $uid, 'compare' => '='));
    // A lookup by uid must also see drafts and trashed posts, or a re-publish after a
    // withdrawal would create a duplicate. Only for users who may edit posts, and only when
    // the caller did not ask for a status itself ('any' alone excludes the trash).
    $query = $request->get_query_params();
    if (!isset($query['status']) && current_user_can('edit_posts')) {
        $args['post_status'] = array('any', 'trash');
    }
    return $args;
}, 10, 2);

/*
 * Idempotent create (plugin version 2). A create that carries a publisher_uid already held
 * by a post, in any status including the trash, becomes an update of that post. The service
 * then writes with one request and no lookup first, and a retry after a lost answer (or a
 * sub-request of a /batch/v1 call repeated) never makes a second post. A late retry of an
 * older version than the one on the site is refused with 409 publisher_stale_version, so it
 * cannot overwrite the newer text.
 */
define('PUBLISHER_DISCLOSURE_PLUGIN', '3');

$GLOBALS['publisher_disclosure_upserted'] = array();

add_filter('rest_pre_insert_post', function ($prepared, $request) {
    if ($request->get_method() !== 'POST' || !empty($request['id'])) {
        return $prepared;  // an update by id: WordPress's own path
    }
    $meta = $request['meta'];
    $uid = is_array($meta) && isset($meta['publisher_uid']) ? $meta['publisher_uid'] : '';
    if (!is_string($uid) || $uid === '') {
        return $prepared;
    }
    $found = get_posts(array(
        'post_type' => 'post', 'post_status' => array('any', 'trash'), 'numberposts' => 1,
        'meta_key' => 'publisher_uid', 'meta_value' => $uid, 'orderby' => 'ID', 'order' => 'ASC',
        'fields' => 'ids', 'suppress_filters' => true, 'no_found_rows' => true,
    ));
    if (!$found) {
        return $prepared;
    }
    $id = (int) $found[0];
    if (!current_user_can('edit_post', $id)) {
        return new WP_Error('rest_cannot_edit', 'Sorry, you are not allowed to edit this post.',
                            array('status' => rest_authorization_required_code()));
    }
    $live = (int) get_post_meta($id, 'publisher_version', true);
    $incoming = isset($meta['publisher_version']) ? (int) $meta['publisher_version'] : 0;
    if ($live > $incoming) {
        return new WP_Error('publisher_stale_version', 'A newer version of this item is already on the site.',
                            array('status' => 409, 'post_id' => $id, 'live_version' => $live,
                                  'link' => get_permalink($id)));
    }
    // What wp_update_post does: fields the request leaves out (date, author, …) keep
    // their stored values instead of wp_insert_post's defaults for a new post.
    $merged = (object) array_merge(get_post($id, ARRAY_A), (array) $prepared);
    $merged->ID = $id;
    $GLOBALS['publisher_disclosure_upserted'][$id] = true;
    return $merged;
}, 10, 2);

add_filter('rest_prepare_post', function ($response, $post) {
    if (isset($GLOBALS['publisher_disclosure_upserted'][$post->ID])) {
        $response->header('X-Publisher-Upsert', 'updated');
    }
    return $response;
}, 10, 2);

// Every REST answer says which version of this plugin is installed: the service refuses to
// write without lookups unless the idempotent create above is there.
add_filter('rest_post_dispatch', function ($response) {
    if ($response instanceof WP_HTTP_Response) {
        $response->header('X-Publisher-Plugin', PUBLISHER_DISCLOSURE_PLUGIN);
    }
    return $response;
});

/*
 * Light live check (plugin version 3). The service confirms a post is live by fetching its
 * public permalink anonymously. With the request header `X-Publisher-Live-Check: 1` the
 * answer comes from this hook instead of the theme: the same URL, the same rewrite rules and
 * the same main query decide what a visitor would get (a draft, private or trashed post is
 * a 404 here as on the themed page), but the page is only the post's title. Rendering the
 * theme costs WordPress about as much as creating the post; this costs about half.
 * Without the header, or for anything but a single post, nothing changes.
 */
add_action('template_redirect', function () {
    if (empty($_SERVER['HTTP_X_PUBLISHER_LIVE_CHECK'])) {
        return;
    }
    nocache_headers();
    header('X-Publisher-Live-Check: ' . PUBLISHER_DISCLOSURE_PLUGIN);
    if (is_404()) {
        status_header(404);
        header('Content-Type: text/html; charset=UTF-8');
        echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>404</title></head><body></body></html>';
        exit;
    }
    $post = is_singular('post') ? get_queried_object() : null;
    if (!($post instanceof WP_Post) || !is_post_publicly_viewable($post)) {
        return;  // not a published post: let WordPress answer as it would to anyone
    }
    status_header(200);
    header('Content-Type: text/html; charset=UTF-8');
    $title = get_the_title($post);
    printf('<!DOCTYPE html><html><head><meta charset="utf-8"><title>%1$s</title></head><body><h1>%1$s</h1></body></html>',
           $title);
    exit;
}, 0);
