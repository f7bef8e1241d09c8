#ifndef STRATA_API_S3_PROTO_INT_H
#define STRATA_API_S3_PROTO_INT_H

/* Private to api/s3_*.c. */

#include "lib/sbuf.h"

/* Value of a hex digit, -1 for anything else. */
static inline int s3_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
