/* SPDX-License-Identifier: MIT */
/*
 * What libsoup reads of a server connection passes through here first.
 * libsoup 3.2 reads Content-Length with strtoull(), which takes "-75" (and
 * wraps a number too long for 64 bits) as a negative length, then warns
 * ("value ... is invalid or out of range for property 'content-length'")
 * as it makes the body's stream, whatever our early handler decided.  So
 * in the request head, a '-' or a 19th digit in a Content-Length value
 * becomes 'x', which libsoup refuses itself with 400 (RFC 9112 section
 * 6.3 wants a 400 and a close for an invalid length).  Byte for byte, no
 * buffering; the body passes untouched.  libsoup reads one request a
 * connection.  signaling-conn.c puts it in front of each connection.
 */
#define G_LOG_DOMAIN "p2psig-signaling"

#include "signaling-private.h"

#define MAX_LENGTH_DIGITS 18

enum head_state {
  HEAD_LINE_START,
  HEAD_NAME,          /* matching "content-length" */
  HEAD_OTHER,         /* the rest of a line that is not one */
  HEAD_VALUE,         /* a Content-Length value */
  HEAD_LINE_CR,       /* a CR ending a line */
  HEAD_BLANK_CR,      /* a CR at the start of a line */
  HEAD_DONE,          /* the body */
};

struct _P2psigHeadFilter {
  GObject parent;
  enum head_state state;
  unsigned matched;   /* bytes of "content-length" matched */
  unsigned digits;    /* of the value so far */
  bool in_length;     /* the last line was Content-Length: a continuation
                         line (SP or HT first) goes on with its value */
  bool request_line;  /* a line was seen: a blank one ends the head */
};

#define P2PSIG_TYPE_HEAD_FILTER (p2psig_head_filter_get_type())
G_DECLARE_FINAL_TYPE(P2psigHeadFilter, p2psig_head_filter, P2PSIG, HEAD_FILTER,
                     GObject)

static void head_filter_iface_init(GConverterIface *iface);

G_DEFINE_TYPE_WITH_CODE(P2psigHeadFilter, p2psig_head_filter, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(G_TYPE_CONVERTER,
                                              head_filter_iface_init))

static void
p2psig_head_filter_class_init(P2psigHeadFilterClass *klass)
{
  (void)klass;
}

static void
p2psig_head_filter_init(P2psigHeadFilter *f)
{
  (void)f;
}

/* One byte of the head; returns it, or 'x' in its place. */
static unsigned char
head_byte(P2psigHeadFilter *f, unsigned char c)
{
  static const char name[] = "content-length";

  switch (f->state) {
  case HEAD_DONE:
    return c;
  case HEAD_BLANK_CR:
    if (c == '\n') {
      f->state = f->request_line ? HEAD_DONE : HEAD_LINE_START;
      return c;
    }
    f->state = HEAD_OTHER;
    return c;
  case HEAD_LINE_CR:
    f->state = HEAD_LINE_START;
    if (c == '\n')
      return c;
    /* A bare CR ended the line. */
    G_GNUC_FALLTHROUGH;
  case HEAD_LINE_START:
    if (c == '\r' || c == '\n') {
      f->in_length = false;
      if (c == '\r')
        f->state = HEAD_BLANK_CR;
      else if (f->request_line)
        f->state = HEAD_DONE;
      return c;
    }
    f->request_line = true;
    if ((c == ' ' || c == '\t') && f->in_length) {
      f->state = HEAD_VALUE;
      return c;
    }
    f->in_length = false;
    f->matched = 0;
    f->state = HEAD_NAME;
    G_GNUC_FALLTHROUGH;
  case HEAD_NAME:
    if (c == ':' && f->matched == sizeof name - 1) {
      f->state = HEAD_VALUE;
      f->digits = 0;
      return c;
    }
    if (f->matched < sizeof name - 1 &&
        g_ascii_tolower(c) == name[f->matched]) {
      f->matched++;
      return c;
    }
    f->state = HEAD_OTHER;
    G_GNUC_FALLTHROUGH;
  case HEAD_OTHER:
    if (c == '\r' || c == '\n')
      f->state = c == '\r' ? HEAD_LINE_CR : HEAD_LINE_START;
    return c;
  case HEAD_VALUE:
    if (c == '\r' || c == '\n') {
      f->in_length = true;
      f->state = c == '\r' ? HEAD_LINE_CR : HEAD_LINE_START;
      return c;
    }
    if (c == '-')
      return 'x';
    if (g_ascii_isdigit(c) && ++f->digits > MAX_LENGTH_DIGITS)
      return 'x';
    return c;
  }
  return c;
}

static GConverterResult
head_filter_convert(GConverter *converter, const void *inbuf, gsize inbuf_size,
                    void *outbuf, gsize outbuf_size, GConverterFlags flags,
                    gsize *bytes_read, gsize *bytes_written, GError **error)
{
  P2psigHeadFilter *f = P2PSIG_HEAD_FILTER(converter);
  const unsigned char *in = inbuf;
  unsigned char *out = outbuf;
  gsize n = MIN(inbuf_size, outbuf_size);

  if (n == 0 && inbuf_size > 0) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                        "no room in the output buffer");
    return G_CONVERTER_ERROR;
  }
  for (gsize i = 0; i < n; i++)
    out[i] = head_byte(f, in[i]);
  *bytes_read = *bytes_written = n;
  if (n == inbuf_size && (flags & G_CONVERTER_INPUT_AT_END))
    return G_CONVERTER_FINISHED;
  if (n == inbuf_size && (flags & G_CONVERTER_FLUSH))
    return G_CONVERTER_FLUSHED;
  return G_CONVERTER_CONVERTED;
}

static void
head_filter_reset(GConverter *converter)
{
  P2psigHeadFilter *f = P2PSIG_HEAD_FILTER(converter);

  f->state = HEAD_LINE_START;
  f->matched = f->digits = 0;
  f->in_length = f->request_line = false;
}

static void
head_filter_iface_init(GConverterIface *iface)
{
  iface->convert = head_filter_convert;
  iface->reset = head_filter_reset;
}

/* The stream libsoup gets: the connection, its input through the head
 * filter.  Closing it closes the connection (GSimpleIOStream would close
 * only the two streams, leaving the socket open until we let it go). */
struct _P2psigFilteredStream {
  GIOStream parent;
  GIOStream *base;
  GInputStream *in;
};

#define P2PSIG_TYPE_FILTERED_STREAM (p2psig_filtered_stream_get_type())
G_DECLARE_FINAL_TYPE(P2psigFilteredStream, p2psig_filtered_stream, P2PSIG,
                     FILTERED_STREAM, GIOStream)
G_DEFINE_TYPE(P2psigFilteredStream, p2psig_filtered_stream, G_TYPE_IO_STREAM)

static GInputStream *
filtered_get_input(GIOStream *stream)
{
  return P2PSIG_FILTERED_STREAM(stream)->in;
}

static GOutputStream *
filtered_get_output(GIOStream *stream)
{
  return g_io_stream_get_output_stream(P2PSIG_FILTERED_STREAM(stream)->base);
}

static gboolean
filtered_close(GIOStream *stream, GCancellable *cancellable, GError **error)
{
  P2psigFilteredStream *self = P2PSIG_FILTERED_STREAM(stream);

  g_input_stream_close(self->in, cancellable, NULL);
  return g_io_stream_close(self->base, cancellable, error);
}

static void
filtered_finalize(GObject *object)
{
  P2psigFilteredStream *self = P2PSIG_FILTERED_STREAM(object);

  g_clear_object(&self->in);
  g_clear_object(&self->base);
  G_OBJECT_CLASS(p2psig_filtered_stream_parent_class)->finalize(object);
}

static void
p2psig_filtered_stream_class_init(P2psigFilteredStreamClass *klass)
{
  G_OBJECT_CLASS(klass)->finalize = filtered_finalize;
  G_IO_STREAM_CLASS(klass)->get_input_stream = filtered_get_input;
  G_IO_STREAM_CLASS(klass)->get_output_stream = filtered_get_output;
  G_IO_STREAM_CLASS(klass)->close_fn = filtered_close;
}

static void
p2psig_filtered_stream_init(P2psigFilteredStream *self)
{
  (void)self;
}

/* Takes nothing: refs base. */
GIOStream *
p2psig__signal_filtered_stream_new(GIOStream *base)
{
  P2psigFilteredStream *self = g_object_new(P2PSIG_TYPE_FILTERED_STREAM,
                                            NULL);
  g_autoptr(GConverter) filter = g_object_new(P2PSIG_TYPE_HEAD_FILTER, NULL);

  self->base = g_object_ref(base);
  /* Pollable when its base is, as libsoup needs. */
  self->in = g_converter_input_stream_new(g_io_stream_get_input_stream(base),
                                          filter);
  return G_IO_STREAM(self);
}
