<?php
/**
 * Plugin Name: Publisher disclosure metadata
 * Description: Registers the disclosure metadata the publisher service writes (索取号, 文号, 印发日期, 发文机关, 有效性, item uid) as REST post meta, and lets it find its own posts by item uid.
 * Version: 1.0.0
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
