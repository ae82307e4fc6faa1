/* vigild's own stdout/stderr as a destination: its log, `inherit`
 * output of programs, the journal fallback. */
#ifndef VIGIL_OUTPUT_STDIO_H
#define VIGIL_OUTPUT_STDIO_H

#include <stdbool.h>
#include <stddef.h>

/* write() until done, retrying EINTR; gives up on any other error.
 * Returns the bytes written: less than len with errno telling why. */
size_t output_write_all(int fd, const char *buf, size_t len);
/* target: 1 or 2; data: whole lines. Never blocks on a stalled reader
 * (drops whole batches instead); before the event loop exists and after
 * output_stdio_free, plain blocking writes. */
void output_stdio_write(int target, const char *data, size_t len);
/* Whether target (1 or 2) is a terminal: colours only there. */
bool output_stdio_is_tty(int target);
void output_stdio_free(void);

#endif
