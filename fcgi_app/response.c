/* response: FastCGI reply records (see response.h). */
#include "response.h"

#include <fastcgi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(FCGI_Header) == FCGI_HEADER_LEN, "FCGI_Header layout");
_Static_assert(sizeof(FCGI_EndRequestBody) == 8, "FCGI_EndRequestBody layout");

const char *response_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

static void put_header(char *p, uint8_t type, uint16_t id, uint16_t len)
{
	FCGI_Header h = {
		.version = FCGI_VERSION_1,
		.type = type,
		.requestIdB1 = (unsigned char)(id >> 8),
		.requestIdB0 = (unsigned char)(id & 0xff),
		.contentLengthB1 = (unsigned char)(len >> 8),
		.contentLengthB0 = (unsigned char)(len & 0xff),
		.paddingLength = 0,
		.reserved = 0,
	};
	memcpy(p, &h, sizeof h);
}

size_t response_encode(char *buf, size_t cap, uint16_t id,
                       const struct response *r)
{
	/* The app's own header blocks fit the stack; a handler's own headers
	 * (up to 8 KiB, fcgi_resp_header) may need the heap. */
	char stack[512], *head = stack;
	const char *type = r->content_type ? r->content_type : RESPONSE_HTML;
	const char *extra = r->extra_headers ? r->extra_headers : "";
#define HEAD_ARGS                                                           \
	"Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",   \
	    r->status, response_reason(r->status), type, r->body_len, extra
	int hn = snprintf(stack, sizeof stack, HEAD_ARGS);
	if (hn < 0)
		return 0;
	if ((size_t)hn >= sizeof stack) {
		if (!(head = malloc((size_t)hn + 1)))
			return 0;
		snprintf(head, (size_t)hn + 1, HEAD_ARGS);
	}
#undef HEAD_ARGS
	size_t body_len = r->head ? 0 : r->body_len;
	size_t content = (size_t)hn + body_len;
	size_t records = (content + FCGI_MAX_LENGTH - 1) / FCGI_MAX_LENGTH;
	size_t total = content + records * FCGI_HEADER_LEN /* data records */
	               + FCGI_HEADER_LEN                   /* empty STDOUT */
	               + sizeof(FCGI_EndRequestRecord);
	if (total > cap) {
		if (head != stack)
			free(head);
		return total;
	}

	/* The content is the header block followed by the body, cut into
	 * records wherever 65535 bytes are full. */
	const char *src[2] = {head, r->body};
	size_t src_len[2] = {(size_t)hn, body_len};
	size_t si = 0, soff = 0;
	char *p = buf;
	size_t left = content;
	while (left > 0) {
		size_t n = left < FCGI_MAX_LENGTH ? left : FCGI_MAX_LENGTH;
		put_header(p, FCGI_STDOUT, id, (uint16_t)n);
		p += FCGI_HEADER_LEN;
		left -= n;
		while (n > 0) {
			size_t take = src_len[si] - soff;
			if (take > n)
				take = n;
			memcpy(p, src[si] + soff, take);
			p += take;
			n -= take;
			soff += take;
			if (soff == src_len[si]) {
				si++;
				soff = 0;
			}
		}
	}
	put_header(p, FCGI_STDOUT, id, 0);
	p += FCGI_HEADER_LEN;

	FCGI_EndRequestRecord end;
	memset(&end, 0, sizeof end);
	put_header((char *)&end.header, FCGI_END_REQUEST, id,
	           sizeof(FCGI_EndRequestBody));
	end.body.protocolStatus = FCGI_REQUEST_COMPLETE;
	memcpy(p, &end, sizeof end);
	p += sizeof end;
	if (head != stack)
		free(head);
	return (size_t)(p - buf);
}

size_t response_page(char *buf, size_t cap, int status, const char *detail)
{
	int n = snprintf(buf, cap,
	                 "<html><head><title>%d %s</title></head><body>"
	                 "<h1>%d %s</h1><p>%s</p></body></html>",
	                 status, response_reason(status), status,
	                 response_reason(status), detail);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}
