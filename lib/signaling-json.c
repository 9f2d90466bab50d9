/* SPDX-License-Identifier: MIT */
/*
 * The JSON of the signaling messages: pion's webrtc.SessionDescription
 * ({"type","sdp"}, the body of POST /sdp and of a one-round-trip answer)
 * and the response to a one-round-trip GET /candidate; and the session id
 * of that mode, which goes in a header.  Pure functions (signaling.h),
 * fuzzed by tests/fuzz/fuzz-signal-json.c; a refusal says why in one
 * line.  json-glib parses, after checks that keep it from recursing too
 * deep or leaking on input that cannot be what we want.
 */
#define G_LOG_DOMAIN "p2psig-signaling"

#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <string.h>

#include "signaling-private.h"

#define MAX_JSON_DEPTH 32    /* json-glib's parser recurses */

static int G_GNUC_PRINTF(2, 3)
json_fail(char **detail, const char *fmt, ...)
{
  if (detail) {
    va_list ap;
    char *text;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* json-glib's messages quote the offending input. */
    *detail = p2psig__signal_one_line(text);
    g_free(text);
  }
  return P2PSIG_EJSON;
}

/* Whether arrays and objects nest deeper than json-glib should recurse. */
static bool
json_too_deep(const char *body, size_t len)
{
  unsigned depth = 0;
  bool in_string = false;

  for (size_t i = 0; i < len; i++) {
    char c = body[i];

    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > MAX_JSON_DEPTH)
        return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return false;
}

/* Go's encoding/json matches member names exactly first, then ignoring
 * case. */
static JsonNode *
find_member(JsonObject *obj, const char *name)
{
  JsonNode *node = json_object_get_member(obj, name);
  JsonObjectIter iter;
  const char *member;

  if (node)
    return node;
  json_object_iter_init(&iter, obj);
  while (json_object_iter_next(&iter, &member, &node))
    if (g_ascii_strcasecmp(member, name) == 0)
      return node;
  return NULL;
}

static const char *
string_member(JsonObject *obj, const char *name, bool *present)
{
  JsonNode *node = find_member(obj, name);

  *present = node != NULL;
  if (!node || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string(node);
}

/* Parses a body that must be a JSON object: *parser holds it (unref),
 * *object is its root.  Returns 0 or json_fail()'s error. */
static int
json_object_load(const char *body, size_t len, JsonParser **parser,
                 JsonObject **object, char **detail)
{
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  if (len > G_MAXSSIZE || !g_utf8_validate_len(body, len, NULL))
    return json_fail(detail, "body is not UTF-8 text");
  if (json_too_deep(body, len))
    return json_fail(detail, "JSON nested more than %d levels deep",
                     MAX_JSON_DEPTH);
  /* Only an object can be what we want: refuse anything else before
   * json-glib 1.6, whose error paths leak what they parsed so far. */
  for (size_t i = 0; i < len && body[i] != '{'; i++)
    if (!g_ascii_isspace(body[i]))
      return json_fail(detail, "body is not a JSON object");

  *parser = json_parser_new_immutable();
  if (!json_parser_load_from_data(*parser, body, (gssize)len, &error))
    return json_fail(detail, "body is not JSON: %s", error->message);
  root = json_parser_get_root(*parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root))
    return json_fail(detail, "body is not a JSON object");
  *object = json_node_get_object(root);
  return 0;
}

int
p2psig__signal_decode_sdp(const char *body, size_t len, p2psig_sdp_type *type,
                          char **sdp, char **detail)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *shown = NULL;
  JsonObject *obj;
  const char *type_str, *sdp_str;
  bool present;
  int rc;

  if (sdp)
    *sdp = NULL;
  if (detail)
    *detail = NULL;
  g_return_val_if_fail(type != NULL && sdp != NULL, P2PSIG_EINVAL);

  if (!body || len == 0)
    return json_fail(detail, "empty body: expected {\"type\":..,\"sdp\":..}");
  if ((rc = json_object_load(body, len, &parser, &obj, detail)) < 0)
    return rc;

  type_str = string_member(obj, "type", &present);
  if (!type_str)
    return json_fail(detail, present ? "\"type\" is not a string"
                                     : "missing \"type\"");
  sdp_str = string_member(obj, "sdp", &present);
  if (!sdp_str)
    return json_fail(detail, present ? "\"sdp\" is not a string"
                                     : "missing \"sdp\"");
  /* json-glib 1.6 decodes a lone surrogate ("\udc00") or an octal escape
   * into bytes that are not UTF-8, though the body itself is. */
  if (!g_utf8_validate(type_str, -1, NULL) ||
      !g_utf8_validate(sdp_str, -1, NULL))
    return json_fail(detail, "a string holds an invalid escape");

  if (strcmp(type_str, "offer") == 0) {
    *type = P2PSIG_SDP_OFFER;
  } else if (strcmp(type_str, "answer") == 0) {
    *type = P2PSIG_SDP_ANSWER;
  } else {
    shown = p2psig__signal_excerpt(type_str, 32);
    if (strcmp(type_str, "pranswer") == 0 || strcmp(type_str, "rollback") == 0)
      return json_fail(detail, "unsupported SDP type \"%s\"", shown);
    return json_fail(detail, "unknown SDP type \"%s\"", shown);
  }
  if (sdp_str[0] == '\0')
    return json_fail(detail, "\"sdp\" is empty");

  *sdp = g_strdup(sdp_str);
  return 0;
}

char *
p2psig__signal_encode_sdp(p2psig_sdp_type type, const char *sdp)
{
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(JsonNode) root = NULL;

  if (!sdp || (type != P2PSIG_SDP_OFFER && type != P2PSIG_SDP_ANSWER))
    return NULL;

  builder = json_builder_new_immutable();
  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "type");
  json_builder_add_string_value(builder,
                                type == P2PSIG_SDP_OFFER ? "offer" : "answer");
  json_builder_set_member_name(builder, "sdp");
  json_builder_add_string_value(builder, sdp);
  json_builder_end_object(builder);
  root = json_builder_get_root(builder);

  generator = json_generator_new();
  json_generator_set_root(generator, root);
  return json_generator_to_data(generator, NULL);
}

char *
p2psig__signal_encode_candidates(const char *const *candidates, size_t count,
                                 unsigned next, bool complete)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable();
  g_autoptr(JsonGenerator) generator = json_generator_new();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "candidates");
  json_builder_begin_array(builder);
  for (size_t i = 0; i < count; i++)
    json_builder_add_string_value(builder, candidates[i]);
  json_builder_end_array(builder);
  json_builder_set_member_name(builder, "next");
  json_builder_add_int_value(builder, next);
  json_builder_set_member_name(builder, "complete");
  json_builder_add_boolean_value(builder, complete);
  json_builder_end_object(builder);
  root = json_builder_get_root(builder);
  json_generator_set_root(generator, root);
  return json_generator_to_data(generator, NULL);
}

int
p2psig__signal_decode_candidates(const char *body, size_t len,
                                 char ***candidates, unsigned *next,
                                 bool *complete, char **detail)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GPtrArray) list = NULL;
  JsonNode *node;
  JsonObject *obj;
  JsonArray *array;
  gint64 value;
  int rc;

  *candidates = NULL;
  *next = 0;
  *complete = false;
  if (detail)
    *detail = NULL;
  if (!body || len == 0)
    return json_fail(detail, "empty body: expected {\"candidates\":[..]}");
  if ((rc = json_object_load(body, len, &parser, &obj, detail)) < 0)
    return rc;

  node = json_object_get_member(obj, "candidates");
  if (!node || !JSON_NODE_HOLDS_ARRAY(node))
    return json_fail(detail, "\"candidates\" is missing or not an array");
  array = json_node_get_array(node);
  list = g_ptr_array_new_with_free_func(g_free);
  for (unsigned i = 0; i < json_array_get_length(array); i++) {
    JsonNode *item = json_array_get_element(array, i);
    const char *text;

    if (!JSON_NODE_HOLDS_VALUE(item) ||
        json_node_get_value_type(item) != G_TYPE_STRING)
      return json_fail(detail, "candidate %u is not a string", i);
    text = json_node_get_string(item);
    if (!g_utf8_validate(text, -1, NULL))
      return json_fail(detail, "a string holds an invalid escape");
    g_ptr_array_add(list, g_strdup(text));
  }

  node = json_object_get_member(obj, "next");
  if (!node || !JSON_NODE_HOLDS_VALUE(node) ||
      json_node_get_value_type(node) != G_TYPE_INT64 ||
      (value = json_node_get_int(node)) < 0 || value > G_MAXUINT32)
    return json_fail(detail, "\"next\" is missing or not an index");
  node = json_object_get_member(obj, "complete");
  if (node && (!JSON_NODE_HOLDS_VALUE(node) ||
               json_node_get_value_type(node) != G_TYPE_BOOLEAN))
    return json_fail(detail, "\"complete\" is not a boolean");

  *complete = node && json_node_get_boolean(node);
  *next = (unsigned)value;
  g_ptr_array_add(list, NULL);
  *candidates = (char **)g_ptr_array_free(g_steal_pointer(&list), FALSE);
  return 0;
}

bool
p2psig__signal_valid_session(const char *id)
{
  if (!id || strlen(id) != P2PSIG_SIGNAL_SESSION_LEN)
    return false;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isxdigit(*p))
      return false;
  return true;
}
