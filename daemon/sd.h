/* systemd glue: READY/RELOADING/STOPPING, a STATUS= summary, and
 * WATCHDOG=1 pings for vigild's own watchdog. Every call is a no-op when
 * vigild was not started by systemd (no NOTIFY_SOCKET). */
#ifndef VIGIL_SD_H
#define VIGIL_SD_H

int sd_glue_init(void);
void sd_glue_free(void);
void sd_glue_ready(void);
void sd_glue_reloading(void);
void sd_glue_stopping(void);
/* Something changed state: refresh STATUS= (coalesced per loop turn). */
void sd_glue_states_changed(void);

#endif
