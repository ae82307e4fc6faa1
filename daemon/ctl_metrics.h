/* GET /metrics: Prometheus text exposition format. */
#ifndef VIGIL_CTL_METRICS_H
#define VIGIL_CTL_METRICS_H

#include <stdint.h>

struct evbuffer;

void ctl_metrics_write(struct evbuffer *buf, int64_t now);

#endif
