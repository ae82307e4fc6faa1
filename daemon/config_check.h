/* Checks that need the whole config: options that depend on each other,
 * users and groups that must exist, bind_to targets. */
#ifndef VIGIL_CONFIG_CHECK_H
#define VIGIL_CONFIG_CHECK_H

#include <stdio.h>

struct config;

/* Writes one line per problem to errors; returns how many. */
int config_check(struct config *config, FILE *errors);

#endif
