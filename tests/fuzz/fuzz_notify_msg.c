/* The sd_notify datagram parser, on raw bytes as recvmsg delivers them. */
#include "notify_msg.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so a read past the datagram is caught */
	char *buf = malloc(size ? size : 1);
	struct notify_msg msg;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	if (notify_msg_parse(buf, size, &msg) == 0) {
		size_t n = strnlen(msg.status, sizeof(msg.status));
		FUZZ_CHECK(n < sizeof(msg.status));
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK((unsigned char)msg.status[i] >= 0x20 && msg.status[i] != 0x7f);
		FUZZ_CHECK(!msg.has_mainpid || msg.mainpid >= 1);
		FUZZ_CHECK(!msg.has_watchdog_usec || msg.watchdog_usec <= UINT64_MAX / 2);
	}
	free(buf);
	return 0;
}
