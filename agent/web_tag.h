/*
 * web_tag.h - the browser tag (agent/web/nudge.js) built into nudged.
 *
 * The arrays are generated at build time by agent/web/embed.sh: the tag as
 * written and its gzip -9 form, served as they are by agent/http.c.
 * Read-only; any thread.
 */
#ifndef NUDGE_WEB_TAG_H
#define NUDGE_WEB_TAG_H

#include <stddef.h>

extern const unsigned char web_tag_js[];
extern const size_t web_tag_js_len;
extern const unsigned char web_tag_js_gz[];
extern const size_t web_tag_js_gz_len;

#endif
