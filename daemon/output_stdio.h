/* vigild's own stdout/stderr as a destination for `inherit` output. */
#ifndef VIGIL_OUTPUT_STDIO_H
#define VIGIL_OUTPUT_STDIO_H

#include <stddef.h>

/* write() until done, retrying EINTR; gives up on any other error.
 * Returns the bytes written: less than len with errno telling why. */
size_t output_write_all(int fd, const char *buf, size_t len);
/* target: 1 or 2. Never blocks on a stalled reader (drops instead). */
void output_stdio_write(int target, const char *data, size_t len);
void output_stdio_free(void);

#endif
