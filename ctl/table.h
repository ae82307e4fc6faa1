/* The readable `vigilctl status` table. */
#ifndef VIGILCTL_TABLE_H
#define VIGILCTL_TABLE_H

#include <jansson.h>
#include <stdio.h>

/* programs: the JSON array of process objects. */
void table_print(FILE *out, json_t *programs);

#endif
