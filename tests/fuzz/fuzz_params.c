/* libFuzzer target: name-value decoding under a cap.  Input: two bytes of
 * cap (plus 1), one byte of chunk size (plus 1), then the params stream,
 * appended chunk by chunk as records would bring it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t cap = ((size_t)data[0] << 8 | data[1]) + 1, chunk = data[2] + 1u;
	data += 3;
	size -= 3;
	struct fcgi_params p;
	fcgi_params_init(&p, cap);
	size_t added = 0;
	int rc = 0;
	while (added < size && rc == 0) {
		size_t n = size - added < chunk ? size - added : chunk;
		rc = fcgi_params_append(&p, data + added, n);
		if (rc == 0)
			added += n;
	}
	/* The cap holds, and a refused chunk added nothing. */
	if (p.len > cap || p.len != added || (rc != 0 && rc != FCGI_IN_TOO_LARGE))
		abort();
	if (rc == 0 && memcmp(p.buf ? (const void *)p.buf : "", data, added) != 0)
		abort();
	if (fcgi_params_check(&p) == 0) {
		/* Whole pairs, each inside the buffer, ending exactly at len. */
		size_t off = 0, prev = 0;
		struct fcgi_in_nv nv;
		while (fcgi_in_nv_next(p.buf, p.len, &off, &nv) > 0) {
			if (nv.name < p.buf + prev || nv.value + nv.value_len > p.buf + p.len ||
			    off <= prev)
				abort();
			prev = off;
		}
		if (off != p.len)
			abort();
		static const char *const names[] = {"DOCUMENT_URI", "REQUEST_URI",
		                                    "CONTENT_LENGTH", "X"};
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			size_t vl;
			const char *v = fcgi_params_get(&p, names[i], &vl);
			if (v && (memchr(v, '\0', vl) ||
			          (const uint8_t *)v + vl > p.buf + p.len))
				abort();
		}
	}
	fcgi_params_free(&p);
	return 0;
}
