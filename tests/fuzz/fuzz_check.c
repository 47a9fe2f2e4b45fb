/* libFuzzer target: the record checker.  The input is a stream of 8-byte
 * headers judged one after the other, the phase and begun id following
 * what each accepted header means (as fcgi_in_read does, contents
 * skipped).  Whatever it accepts must satisfy the rules it stands for. */
#include <fastcgi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fcgi_in.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum fcgi_in_phase phase = FCGI_IN_WANT_BEGIN;
	uint16_t begun = 0;
	for (size_t off = 0; off + 8 <= size; off += 8) {
		struct fcgi_in_hdr h;
		int k = fcgi_in_check(data + off, phase, begun, &h);
		if (k < 0)
			return 0; /* the connection would be closed here */
		/* Accepted: version 1, padding at most 7, and the request id
		 * rules. */
		if (data[off] != FCGI_VERSION_1 || h.padding > FCGI_IN_MAX_PADDING)
			abort();
		switch (k) {
		case FCGI_IN_MGMT:
			if (h.id != 0 || h.type == FCGI_BEGIN_REQUEST)
				abort();
			break;
		case FCGI_IN_BEGIN:
			if (phase != FCGI_IN_WANT_BEGIN || h.id == 0 ||
			    h.length != sizeof(FCGI_BeginRequestBody))
				abort();
			begun = h.id;
			phase = FCGI_IN_IN_PARAMS;
			break;
		case FCGI_IN_PARAMS:
			if (phase != FCGI_IN_IN_PARAMS || h.id != begun)
				abort();
			if (h.length == 0)
				phase = FCGI_IN_IN_STDIN;
			break;
		case FCGI_IN_STDIN:
			if (phase != FCGI_IN_IN_STDIN || h.id != begun)
				abort();
			if (h.length == 0) {
				phase = FCGI_IN_WANT_BEGIN;
				begun = 0;
			}
			break;
		default:
			abort();
		}
	}
	return 0;
}
