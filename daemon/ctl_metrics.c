#include "ctl_metrics.h"

#include <event2/buffer.h>
#include <stdlib.h>

#include "parse.h"
#include "ctl_conn.h"
#include "notify.h"
#include "proc_stat.h"
#include "program.h"
#include "vigild.h"

/* Only processes with a health_check have these series: a 0 for one
 * without would read as "unhealthy". */
static void ctl_metrics_write_health(struct evbuffer *buf)
{
	evbuffer_add_printf(buf, "# HELP vigil_process_healthy 1 when the process's health checks pass, else 0.\n"
				 "# TYPE vigil_process_healthy gauge\n");
	for (size_t i = 0; i < vigil.nprocs; i++) {
		const struct proc *p = vigil.procs[i];
		if (p->health.configured)
			evbuffer_add_printf(buf, "vigil_process_healthy{name=\"%s\"} %d\n", p->name,
					    p->health.state == HEALTH_HEALTHY);
	}
	evbuffer_add_printf(buf, "# HELP vigil_health_checks_total Health checks run, by result.\n"
				 "# TYPE vigil_health_checks_total counter\n");
	for (size_t i = 0; i < vigil.nprocs; i++) {
		const struct proc *p = vigil.procs[i];
		if (p->health.configured)
			evbuffer_add_printf(buf, "vigil_health_checks_total{name=\"%s\",result=\"pass\"} %llu\n"
						 "vigil_health_checks_total{name=\"%s\",result=\"fail\"} %llu\n",
					    p->name, (unsigned long long)p->health.passed, p->name,
					    (unsigned long long)p->health.failed);
	}
}

/* Read as a status request reads them, but a scrape does not restart the
 * interval of the next status's cpu_percent: Prometheus takes rates of
 * the counter itself. Only running processes have these series. */
static void ctl_metrics_write_usage(struct evbuffer *buf, int64_t now)
{
	struct proc_stat_batch batch;
	struct proc_usage *usage = calloc(vigil.nprocs + 1, sizeof(*usage));

	if (!usage)
		return;
	proc_stat_batch_begin(&batch);
	for (size_t i = 0; i < vigil.nprocs; i++)
		proc_stat_sample(&batch, vigil.procs[i], now, false, &usage[i]);
	proc_stat_batch_end(&batch, true);
	evbuffer_add_printf(buf, "# HELP vigil_process_cpu_seconds_total CPU time of the process and its descendants "
				 "(its cgroup) since it started.\n"
				 "# TYPE vigil_process_cpu_seconds_total counter\n");
	for (size_t i = 0; i < vigil.nprocs; i++)
		if (usage[i].cpu_known)
			evbuffer_add_printf(buf, "vigil_process_cpu_seconds_total{name=\"%s\"} %.6f\n", vigil.procs[i]->name,
					    (double)usage[i].cpu_usec / USEC_PER_SEC);
	evbuffer_add_printf(buf, "# HELP vigil_process_resident_memory_bytes Resident memory of the process and its "
				 "descendants (its cgroup).\n"
				 "# TYPE vigil_process_resident_memory_bytes gauge\n");
	for (size_t i = 0; i < vigil.nprocs; i++)
		if (usage[i].rss_known)
			evbuffer_add_printf(buf, "vigil_process_resident_memory_bytes{name=\"%s\"} %llu\n",
					    vigil.procs[i]->name, (unsigned long long)usage[i].rss_bytes);
	free(usage);
}

void ctl_metrics_write(struct evbuffer *buf, int64_t now)
{
	evbuffer_add_printf(buf, "# HELP vigil_up vigild is running.\n# TYPE vigil_up gauge\nvigil_up 1\n");
	evbuffer_add_printf(buf, "# HELP vigil_process_state 1 for the state each process is in.\n"
				 "# TYPE vigil_process_state gauge\n");
	for (size_t i = 0; i < vigil.nprocs; i++) {
		const struct proc *p = vigil.procs[i];
		for (int s = 0; s < STATE_COUNT; s++)
			evbuffer_add_printf(buf, "vigil_process_state{name=\"%s\",program=\"%s\",state=\"%s\"} %d\n",
					    p->name, p->cfg->name, state_name(s), p->state == (enum proc_state)s);
	}
	evbuffer_add_printf(buf, "# HELP vigil_process_restarts_total Times the process was started again: "
				 "automatic restarts after an exit and restarts requested over the ctl socket.\n"
				 "# TYPE vigil_process_restarts_total counter\n");
	for (size_t i = 0; i < vigil.nprocs; i++)
		evbuffer_add_printf(buf, "vigil_process_restarts_total{name=\"%s\"} %u\n", vigil.procs[i]->name,
				    vigil.procs[i]->restarts);
	evbuffer_add_printf(buf, "# HELP vigil_output_lost_bytes_total Output never written to its file "
				 "(disk full, I/O error, file refused).\n"
				 "# TYPE vigil_output_lost_bytes_total counter\n");
	for (size_t i = 0; i < vigil.nprocs; i++)
		evbuffer_add_printf(buf, "vigil_output_lost_bytes_total{name=\"%s\",program=\"%s\"} %llu\n",
				    vigil.procs[i]->name, vigil.procs[i]->cfg->name, vigil.procs[i]->output.lost_bytes);
	evbuffer_add_printf(buf, "# HELP vigil_notify_dropped_total Notify messages ignored (unknown sender, malformed).\n"
				 "# TYPE vigil_notify_dropped_total counter\nvigil_notify_dropped_total %llu\n",
			    (unsigned long long)notify_dropped_count());
	evbuffer_add_printf(buf, "# HELP vigil_notify_passed_fds_total Descriptors passed with notify messages (all closed).\n"
				 "# TYPE vigil_notify_passed_fds_total counter\nvigil_notify_passed_fds_total %llu\n"
				 "# HELP vigil_notify_passed_fds_pending Passed descriptors not closed yet.\n"
				 "# TYPE vigil_notify_passed_fds_pending gauge\nvigil_notify_passed_fds_pending %zu\n",
			    (unsigned long long)notify_passed_fds_total(), notify_passed_fds_pending());
	evbuffer_add_printf(buf, "# HELP vigil_ctl_connections Open ctl connections, and the cap for non-root users.\n"
				 "# TYPE vigil_ctl_connections gauge\nvigil_ctl_connections %zu\n"
				 "vigil_ctl_connections_max %zu\n"
				 "# HELP vigil_ctl_refused_total ctl connections refused at accept (peer not allowed, over a cap).\n"
				 "# TYPE vigil_ctl_refused_total counter\nvigil_ctl_refused_total %llu\n",
			    ctl_conn_count(), ctl_conn_cap(), ctl_conn_refused_count());
	evbuffer_add_printf(buf, "# HELP vigil_process_heartbeat_age_seconds Time since the last WATCHDOG=1.\n"
				 "# TYPE vigil_process_heartbeat_age_seconds gauge\n");
	for (size_t i = 0; i < vigil.nprocs; i++) {
		const struct proc *p = vigil.procs[i];
		if (p->pid && p->hb.last_ping)
			evbuffer_add_printf(buf, "vigil_process_heartbeat_age_seconds{name=\"%s\"} %.3f\n", p->name,
					    (double)(now - p->hb.last_ping) / USEC_PER_SEC);
	}
	ctl_metrics_write_health(buf);
	evbuffer_add_printf(buf, "# HELP vigil_process_uptime_seconds Time since the running process started.\n"
				 "# TYPE vigil_process_uptime_seconds gauge\n");
	for (size_t i = 0; i < vigil.nprocs; i++) {
		const struct proc *p = vigil.procs[i];
		evbuffer_add_printf(buf, "vigil_process_uptime_seconds{name=\"%s\"} %.3f\n", p->name,
				    p->pid ? (double)(now - p->started_at) / USEC_PER_SEC : 0.0);
	}
	ctl_metrics_write_usage(buf, now);
}
