/* Checks that need the whole config: options that depend on each other,
 * users and groups that must exist, bind_to and requires targets, the
 * command's executable. They run on whatever was read, also when the
 * parser found errors, and judge nothing that depends on a refused value
 * or on a section that could not be read: each mistake is told once. */
#ifndef VIGIL_CONFIG_CHECK_H
#define VIGIL_CONFIG_CHECK_H

struct config;
struct config_report;

/* Adds each problem to errors; returns how many. */
int config_check(struct config *config, struct config_report *errors);

#endif
