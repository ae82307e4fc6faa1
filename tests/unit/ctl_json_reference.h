/* The reference encoding of a process and the helpers the ctl_json unit
 * tests share (see test_ctl_json.c for what the reference is). */
#ifndef VIGIL_TEST_CTL_JSON_REFERENCE_H
#define VIGIL_TEST_CTL_JSON_REFERENCE_H

#include <event2/buffer.h>
#include <jansson.h>
#include <stdint.h>

#include "config.h"
#include "program.h"

#define CAUSE_COUNT (CAUSE_STOPPED + 1)

struct fixture {
	struct program_config pc;
	struct proc p;
};

/* the json_pack encoding as it was */
json_t *reference_proc(const struct proc *p, int64_t now);
void fixture_init(struct fixture *f, const char *name);
/* the evbuffer's text, NUL-terminated; the caller frees it */
char *buffer_text(struct evbuffer *buf);
char *writer_text_of(const struct proc *p, int64_t now);
/* text must parse to what reference is, key order and types included */
void assert_same_json(const char *text, json_t *reference);
/* the writer's text for p is the reference's */
void assert_proc_matches(const struct proc *p, int64_t now);
json_t *parsed_proc(const struct proc *p, int64_t now);
void assert_key_string(json_t *obj, const char *key, const char *expected);

#endif
