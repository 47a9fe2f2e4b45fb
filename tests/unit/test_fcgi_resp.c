/*
 * Unit tests for the response object (fcgi_resp.c): what fcgi_resp_header
 * refuses (and that a refusal leaves the response as it was), the 8 KiB
 * cap, the content type, copied and borrowed bodies (a borrowed body's
 * release runs exactly once), fcgi_resp_of, the reply helpers and the
 * app's HTML page, and the encoding of a response whose header block
 * passes the encoder's 512-byte stack buffer.
 */
#include <errno.h>
#include <fastcgi.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "deferred.h"
#include "fcgi_app.h"
#include "fcgi_resp.h"
#include "response.h"

static struct response view_of(const struct fcgi_resp *r)
{
	struct response v;
	fcgi_resp_encode_view(r, &v);
	return v;
}

/* The header lines, "" for none. */
static const char *headers_of(const struct fcgi_resp *r)
{
	const char *h = view_of(r).extra_headers;
	return h ? h : "";
}

static void new_status(void **state)
{
	(void)state;
	static const struct {
		int in, out;
	} cases[] = {{200, 200}, {100, 100}, {599, 599}, {404, 404},
	             {99, 500},  {600, 500}, {0, 500},   {-1, 500}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fcgi_resp *r = fcgi_resp_new(cases[i].in);
		assert_non_null(r);
		struct response v = view_of(r);
		assert_int_equal(v.status, cases[i].out);
		assert_null(v.content_type); /* FCGI_HTML */
		assert_null(v.extra_headers);
		assert_int_equal(v.body_len, 0);
		fcgi_resp_free(r);
	}
	fcgi_resp_free(NULL);
}

static void headers_accepted(void **state)
{
	(void)state;
	struct fcgi_resp *r = fcgi_resp_new(200);
	assert_int_equal(fcgi_resp_header(r, "X-Foo", "bar"), 0);
	assert_int_equal(fcgi_resp_header(r, "Cache-Control", "no-store, max-age=0"), 0);
	/* Every tchar in a name; tab and obs-text in a value; empty value. */
	assert_int_equal(fcgi_resp_header(r, "x!#$%&'*+-.^_`|~9", "a\tb \x80\xff"), 0);
	assert_int_equal(fcgi_resp_header(r, "X-Empty", ""), 0);
	assert_string_equal(headers_of(r),
	                    "X-Foo: bar\r\n"
	                    "Cache-Control: no-store, max-age=0\r\n"
	                    "x!#$%&'*+-.^_`|~9: a\tb \x80\xff\r\n"
	                    "X-Empty: \r\n");
	fcgi_resp_free(r);
}

static void headers_refused(void **state)
{
	(void)state;
	struct fcgi_resp *r = fcgi_resp_new(200);
	assert_int_equal(fcgi_resp_header(r, "X-Ok", "1"), 0);
	static const struct {
		const char *name, *value;
	} bad[] = {
		/* Values that would end or split the header block. */
		{"X-A", "a\rb"}, {"X-A", "a\nb"}, {"X-A", "a\r\nX-Evil: 1"},
		{"X-A", "\x01"}, {"X-A", "a\x1f"}, {"X-A", "a\x7f"},
		/* Names that are not tokens. */
		{"", "v"}, {"X Foo", "v"}, {"X:Foo", "v"}, {"X-Foo:", "v"},
		{"X(Foo)", "v"}, {"X\rFoo", "v"}, {"X\nFoo", "v"}, {"X\x7f", "v"},
		{"\xc3\x9c", "v"}, {"X\"", "v"}, {"X/Y", "v"}, {"X@Y", "v"},
		/* The server's own headers. */
		{"Status", "302 Found"}, {"status", "200"},
		{"Content-Length", "0"}, {"CONTENT-LENGTH", "0"},
		{"Content-Type", "text/plain"}, {"content-type", "text/plain"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(fcgi_resp_header(r, bad[i].name, bad[i].value),
		                 -EINVAL);
		assert_string_equal(headers_of(r), "X-Ok: 1\r\n");
	}
	assert_int_equal(fcgi_resp_header(r, NULL, "v"), -EINVAL);
	assert_int_equal(fcgi_resp_header(r, "X-A", NULL), -EINVAL);
	assert_int_equal(fcgi_resp_header(NULL, "X-A", "v"), -EINVAL);
	/* A NUL ends a C string: what follows it is never sent. */
	assert_int_equal(fcgi_resp_header(r, "X-Nul", "a\0\r\nX-Evil: 1"), 0);
	assert_string_equal(headers_of(r), "X-Ok: 1\r\nX-Nul: a\r\n");
	struct response v = view_of(r);
	assert_int_equal(v.status, 200);
	assert_null(v.content_type);
	fcgi_resp_free(r);
}

/* At most 8 KiB of header lines, each "Name: value\r\n". */
static void headers_cap(void **state)
{
	(void)state;
	char value[8192];
	struct fcgi_resp *r = fcgi_resp_new(200);
	/* "X-A: " + value + "\r\n" = 8192 exactly. */
	memset(value, 'v', sizeof value);
	value[8192 - 7] = '\0';
	assert_int_equal(fcgi_resp_header(r, "X-A", value), 0);
	assert_int_equal(strlen(headers_of(r)), 8192);
	assert_int_equal(fcgi_resp_header(r, "X", ""), -ENOSPC);
	assert_int_equal(strlen(headers_of(r)), 8192);
	fcgi_resp_free(r);

	r = fcgi_resp_new(200);
	value[8192 - 6] = '\0';
	memset(value, 'v', 8192 - 6);
	assert_int_equal(fcgi_resp_header(r, "X-A", value), -ENOSPC);
	assert_string_equal(headers_of(r), "");
	/* Many small ones reach the same cap. */
	int n = 0;
	while (fcgi_resp_header(r, "X-Many", "0123456789") == 0)
		n++;
	assert_int_equal(n, 8192 / 20);
	assert_int_equal(strlen(headers_of(r)), (size_t)n * 20);
	fcgi_resp_free(r);
}

static void content_type(void **state)
{
	(void)state;
	struct fcgi_resp *r = fcgi_resp_new(200);
	assert_int_equal(fcgi_resp_content_type(r, FCGI_JSON), 0);
	assert_string_equal(view_of(r).content_type, "application/json");
	/* Refused: the type stays. */
	assert_int_equal(fcgi_resp_content_type(r, ""), -EINVAL);
	assert_int_equal(fcgi_resp_content_type(r, "text/plain\r\nX-Evil: 1"),
	                 -EINVAL);
	assert_int_equal(fcgi_resp_content_type(r, "text/plain\n"), -EINVAL);
	assert_int_equal(fcgi_resp_content_type(r, "a\x7f"), -EINVAL);
	assert_string_equal(view_of(r).content_type, "application/json");
	assert_int_equal(fcgi_resp_content_type(r, "text/csv; charset=\"utf-8\""), 0);
	assert_string_equal(view_of(r).content_type, "text/csv; charset=\"utf-8\"");
	/* NULL: back to the default. */
	assert_int_equal(fcgi_resp_content_type(r, NULL), 0);
	assert_null(view_of(r).content_type);
	assert_int_equal(fcgi_resp_content_type(NULL, FCGI_TEXT), -EINVAL);
	fcgi_resp_free(r);
}

static int done_calls;
static void *done_arg_seen;
static void on_done(void *arg)
{
	done_calls++;
	done_arg_seen = arg;
}

static void bodies(void **state)
{
	(void)state;
	/* Copied: the caller's buffer may change after. */
	char src[] = "hello";
	struct fcgi_resp *r = fcgi_resp_new(200);
	assert_int_equal(fcgi_resp_body(r, src, 5), 0);
	src[0] = 'J';
	struct response v = view_of(r);
	assert_int_equal(v.body_len, 5);
	assert_memory_equal(v.body, "hello", 5);
	assert_ptr_not_equal(v.body, src);
	/* Refused: the body stays. */
	assert_int_equal(fcgi_resp_body(r, NULL, 3), -EINVAL);
	assert_memory_equal(view_of(r).body, "hello", 5);
	/* Empty. */
	assert_int_equal(fcgi_resp_body(r, NULL, 0), 0);
	assert_int_equal(view_of(r).body_len, 0);
	fcgi_resp_free(r);

	/* Borrowed: the same bytes, released once when freed. */
	static const char big[] = "borrowed body";
	int token;
	done_calls = 0;
	r = fcgi_resp_new(200);
	fcgi_resp_body_borrow(r, big, 8, on_done, &token);
	v = view_of(r);
	assert_ptr_equal(v.body, big);
	assert_int_equal(v.body_len, 8);
	assert_int_equal(done_calls, 0);
	fcgi_resp_free(r);
	assert_int_equal(done_calls, 1);
	assert_ptr_equal(done_arg_seen, &token);

	/* Released once when replaced, by a copy or another borrow, and
	 * not again when freed. */
	done_calls = 0;
	r = fcgi_resp_new(200);
	fcgi_resp_body_borrow(r, big, 8, on_done, &token);
	assert_int_equal(fcgi_resp_body(r, "x", 1), 0);
	assert_int_equal(done_calls, 1);
	fcgi_resp_body_borrow(r, big, 3, on_done, NULL);
	assert_int_equal(done_calls, 1);
	fcgi_resp_body_borrow(r, big + 1, 2, on_done, NULL);
	assert_int_equal(done_calls, 2);
	assert_ptr_equal(view_of(r).body, big + 1);
	assert_int_equal(fcgi_resp_body(r, NULL, 4), -EINVAL); /* kept */
	assert_int_equal(done_calls, 2);
	fcgi_resp_free(r);
	assert_int_equal(done_calls, 3);

	/* No release function: a body that outlives every response. */
	r = fcgi_resp_new(200);
	fcgi_resp_body_borrow(r, big, 4, NULL, NULL);
	assert_ptr_equal(view_of(r).body, big);
	fcgi_resp_free(r);
}

static void resp_of_values(void **state)
{
	(void)state;
	struct fcgi_resp *r = fcgi_resp_new(201);
	struct deferred_val v = fcgi_resp_val(r);
	assert_ptr_equal(fcgi_resp_of(v), r);
	/* Other values, a pointer to a response among them, are not. */
	assert_null(fcgi_resp_of(deferred_val_ptr(r, NULL)));
	assert_null(fcgi_resp_of(deferred_val_ptr(r, free)));
	assert_null(fcgi_resp_of(deferred_val_static("text")));
	assert_null(fcgi_resp_of(deferred_val_none()));
	struct deferred_val s = deferred_val_str(strdup("x"));
	assert_null(fcgi_resp_of(s));
	deferred_val_free(s);
	struct deferred_val f = deferred_val_failure(failure_new("E", "m"));
	assert_null(fcgi_resp_of(f));
	deferred_val_free(f);
	deferred_val_free(v); /* frees the response (ASan/valgrind see it) */
	/* No response (out of memory upstream): a MemoryError, not a
	 * pointer a callback would send. */
	struct deferred_val none = fcgi_resp_val(NULL);
	assert_int_equal(none.kind, DEFERRED_VAL_FAILURE);
	assert_string_equal(failure_type(none.failure), "MemoryError");
	assert_null(fcgi_resp_of(none));
	deferred_val_free(none);
}

/* What a fired Deferred's callback receives: the response view, its body
 * and content type copied out. */
struct seen {
	struct response v;
	struct fcgi_resp *resp;
	char type[128];
	char body[1024];
};

static struct deferred_val grab(struct deferred_val val, void *arg)
{
	struct seen *s = arg;
	s->resp = fcgi_resp_of(val);
	assert_non_null(s->resp);
	s->v = view_of(s->resp);
	assert_true(s->v.body_len < sizeof s->body);
	if (s->v.body_len)
		memcpy(s->body, s->v.body, s->v.body_len);
	s->body[s->v.body_len] = '\0';
	snprintf(s->type, sizeof s->type, "%s",
	         s->v.content_type ? s->v.content_type : "");
	s->v.body = NULL;
	s->v.content_type = NULL;
	return val; /* the Deferred frees it */
}

/* The response a fired Deferred holds; the Deferred is dropped. */
static struct seen result_of(struct deferred *d)
{
	struct seen s;
	memset(&s, 0, sizeof s);
	assert_non_null(d);
	assert_true(deferred_has_result(d));
	assert_int_equal(deferred_add_callback(d, grab, &s, NULL), 0);
	assert_non_null(s.resp);
	deferred_unref(d);
	return s;
}

static void reply_helpers(void **state)
{
	(void)state;
	struct seen s = result_of(fcgi_reply_text(201, FCGI_TEXT, "created"));
	assert_int_equal(s.v.status, 201);
	assert_string_equal(s.type, "text/plain; charset=utf-8");
	assert_string_equal(s.body, "created");
	assert_int_equal(s.v.body_len, 7);

	s = result_of(fcgi_reply_text(200, NULL, ""));
	assert_string_equal(s.type, ""); /* the default, FCGI_HTML */
	assert_int_equal(s.v.body_len, 0);

	/* fcgi_resp_text: the same response, not yet given away. */
	struct fcgi_resp *t = fcgi_resp_text(404, FCGI_JSON, "{}");
	assert_non_null(t);
	struct response tv = view_of(t);
	assert_int_equal(tv.status, 404);
	assert_string_equal(tv.content_type, "application/json");
	assert_int_equal(tv.body_len, 2);
	assert_memory_equal(tv.body, "{}", 2);
	fcgi_resp_free(t);

	/* A bad type: nothing, and nothing leaked. */
	assert_null(fcgi_resp_text(200, "text/plain\r\n", "x"));
	assert_null(fcgi_reply_text(200, "text/plain\r\n", "x"));
	assert_null(fcgi_reply(NULL));

	struct fcgi_resp *r = fcgi_resp_new(202);
	assert_int_equal(fcgi_resp_header(r, "X-Id", "7"), 0);
	s = result_of(fcgi_reply(r));
	assert_ptr_equal(s.resp, r);
	assert_int_equal(s.v.status, 202);
}

static void pages(void **state)
{
	(void)state;
	/* The server's 404, word for word. */
	struct seen s = result_of(fcgi_reply_page(404, "No such resource."));
	assert_int_equal(s.v.status, 404);
	assert_string_equal(s.type, "");
	assert_string_equal(s.body,
	    "<html><head><title>404 Not Found</title></head><body>"
	    "<h1>404 Not Found</h1><p>No such resource.</p></body></html>");
	/* The detail is escaped: < > & " ' never reach the page raw. */
	s = result_of(fcgi_reply_page(400, "<script>alert(\"x\" & 'y')</script>"));
	assert_int_equal(s.v.status, 400);
	assert_string_equal(s.body,
	    "<html><head><title>400 Bad Request</title></head><body>"
	    "<h1>400 Bad Request</h1><p>&lt;script&gt;alert(&quot;x&quot; &amp; "
	    "&#39;y&#39;)&lt;/script&gt;</p></body></html>");
	/* A long detail is cut, never past the page's end. */
	char longd[3000];
	memset(longd, '<', sizeof longd - 1);
	longd[sizeof longd - 1] = '\0';
	struct fcgi_resp *r = fcgi_resp_page(503, longd);
	assert_non_null(r);
	struct response v = view_of(r);
	assert_true(v.body_len > 700 && v.body_len < 1024);
	assert_memory_equal(v.body + v.body_len - 18, "</p></body></html>", 18);
	fcgi_resp_free(r);
}

static void escape(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(fcgi_resp_escape("a<b>c&d\"e'f", out, sizeof out), 30);
	assert_string_equal(out, "a&lt;b&gt;c&amp;d&quot;e&#39;f");
	assert_int_equal(fcgi_resp_escape(NULL, out, sizeof out), 0);
	assert_string_equal(out, "");
	/* Cut to fit, never half an entity. */
	char small[10];
	size_t n = fcgi_resp_escape("<<<<", small, sizeof small);
	assert_int_equal(n, strlen(small));
	assert_string_equal(small, "&lt;");
}

/* The FastCGI records of an encoded reply, joined: the STDOUT content
 * (into out, *len) up to the empty STDOUT, then END_REQUEST. */
static void decode(const unsigned char *b, size_t n, uint16_t id, char *out,
                   size_t *len)
{
	size_t off = 0;
	*len = 0;
	for (;;) {
		assert_true(off + 8 <= n);
		const unsigned char *h = b + off;
		size_t clen = (size_t)h[4] << 8 | h[5];
		assert_int_equal(h[0], FCGI_VERSION_1);
		assert_int_equal((h[2] << 8) | h[3], id);
		assert_int_equal(h[6], 0);
		off += 8;
		if (h[1] == FCGI_END_REQUEST) {
			assert_int_equal(clen, 8);
			assert_int_equal(b[off + 4], FCGI_REQUEST_COMPLETE);
			off += 8;
			break;
		}
		assert_int_equal(h[1], FCGI_STDOUT);
		memcpy(out + *len, b + off, clen);
		*len += clen;
		off += clen;
	}
	assert_int_equal(off, n);
}

static void encode_big_header_block(void **state)
{
	(void)state;
	struct fcgi_resp *r = fcgi_resp_new(202);
	char value[601];
	memset(value, 'v', 600);
	value[600] = '\0';
	assert_int_equal(fcgi_resp_header(r, "X-Big", value), 0);
	assert_int_equal(fcgi_resp_header(r, "X-Small", "1"), 0);
	assert_int_equal(fcgi_resp_content_type(r, FCGI_JSON), 0);
	assert_int_equal(fcgi_resp_body(r, "{\"ok\":1}", 8), 0);
	struct response v = view_of(r);
	size_t need = response_encode(NULL, 0, 513, &v);
	assert_true(need > 700);
	unsigned char *buf = malloc(need);
	assert_non_null(buf);
	assert_int_equal(response_encode((char *)buf, need, 513, &v), need);
	char want[1024];
	int wn = snprintf(want, sizeof want,
	                  "Status: 202 Accepted\r\n"
	                  "Content-Type: application/json\r\n"
	                  "Content-Length: 8\r\n"
	                  "X-Big: %s\r\n"
	                  "X-Small: 1\r\n"
	                  "\r\n"
	                  "{\"ok\":1}",
	                  value);
	char got[2048];
	size_t len;
	decode(buf, need, 513, got, &len);
	assert_int_equal(len, (size_t)wn);
	assert_memory_equal(got, want, len);
	free(buf);

	/* HEAD: the same header block, no body. */
	v.head = true;
	need = response_encode(NULL, 0, 1, &v);
	buf = malloc(need);
	assert_non_null(buf);
	assert_int_equal(response_encode((char *)buf, need, 1, &v), need);
	decode(buf, need, 1, got, &len);
	assert_int_equal(len, (size_t)wn - 8);
	assert_memory_equal(got, want, len);
	free(buf);
	fcgi_resp_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_status),
		cmocka_unit_test(headers_accepted),
		cmocka_unit_test(headers_refused),
		cmocka_unit_test(headers_cap),
		cmocka_unit_test(content_type),
		cmocka_unit_test(bodies),
		cmocka_unit_test(resp_of_values),
		cmocka_unit_test(reply_helpers),
		cmocka_unit_test(pages),
		cmocka_unit_test(escape),
		cmocka_unit_test(encode_big_header_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
