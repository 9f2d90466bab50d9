/* SPDX-License-Identifier: MIT */
/*
 * The page the answer serves with -page (tools/page.html, embedded at build
 * time): the template with the flags' ICE servers, transport policy and
 * interval put in as JSON, so that the browser offer uses the servers the
 * tools use.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page-html.h"

#define MARKER "@P2PSIG_CONFIG@"

/* pion's example uses Google's public STUN server, as tool_peer_config(). */
static const char *const default_urls[] = {"stun:stun.l.google.com:19302",
                                           NULL};

struct buf {
  char *data;
  size_t len, size;
};

static void
put(struct buf *b, const char *s, size_t n)
{
  if (b->len + n + 1 > b->size) {
    b->size = 2 * (b->len + n + 1);
    b->data = realloc(b->data, b->size);
    if (!b->data) {
      fprintf(stderr, "out of memory\n");
      exit(1);
    }
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void
puts_(struct buf *b, const char *s)
{
  put(b, s, strlen(s));
}

/* A JSON string that is also safe inside a <script> element: '<', '>' and
 * '&' (and every control character) are \u escapes, so that no text
 * closes the element. */
static void
put_json_string(struct buf *b, const char *s)
{
  puts_(b, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];

    if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&' || *p == 0x7f) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      puts_(b, esc);
    } else if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      put(b, esc, 2);
    } else {
      put(b, (const char *)p, 1);
    }
  }
  puts_(b, "\"");
}

char *
tool_page_build(const struct tool_options *opt)
{
  const char *const *urls = opt->ice_server_count ? opt->ice_servers
                                                  : default_urls;
  size_t count = opt->ice_server_count ? opt->ice_server_count : 1;
  const char *marker = strstr(tool_page_html, MARKER);
  struct buf b = {0};
  char number[32];

  put(&b, tool_page_html, (size_t)(marker - tool_page_html));
  /* One RTCIceServer, as tool_peer_config() makes one server of them. */
  puts_(&b, "{\"iceServers\":[{\"urls\":[");
  for (size_t i = 0; i < count; i++) {
    if (i)
      puts_(&b, ",");
    put_json_string(&b, urls[i]);
  }
  puts_(&b, "]");
  if (opt->ice_username) {
    puts_(&b, ",\"username\":");
    put_json_string(&b, opt->ice_username);
  }
  if (opt->ice_credential) {
    puts_(&b, ",\"credential\":");
    put_json_string(&b, opt->ice_credential);
  }
  puts_(&b, "}],\"iceTransportPolicy\":");
  puts_(&b, opt->relay_only ? "\"relay\"" : "\"all\"");
  snprintf(number, sizeof number, "%g", opt->interval);
  puts_(&b, ",\"interval\":");
  puts_(&b, number);
  puts_(&b, "}");
  puts_(&b, marker + strlen(MARKER));
  return b.data;
}
