/* Unit tests for the options of issue 8 in config_load(): requires,
 * type = oneshot, health_check and health_*, critical (DESIGN.md
 * "Dependencies and one-shot tasks", "Active health checks", "Container
 * mode"): the values they yield, reload equality, and each error at the
 * file:line of its option. */
#include "config_helpers.h"

/* config_load() of content, which must be valid. */
static struct config *load_text_ok(const char *rel, const char *content)
{
	char *path = write_file(rel, content);
	struct config *c = load_ok(path);

	free(path);
	return c;
}

/* ---- values ---------------------------------------------------------------- */

static void test_values(void **state)
{
	struct config *c = load_text_ok("values/vigil.conf",
					"[program:db]\n"
					"command = /bin/true\n"
					"health_check = tcp://127.0.0.1:5432\n"
					"[program:migrate]\n"
					"command = /bin/true\n"
					"type = oneshot\n"
					"[program:cache]\n"
					"command = /bin/true\n"
					"[program:web]\n"
					"command = /bin/true\n"
					"requires =  db : healthy ,migrate:completed,   cache  \n"
					"health_check = http://127.0.0.1:8080/healthz?full=1\n"
					"health_interval = 5s\n"
					"health_timeout = 500ms\n"
					"health_retries = 1000\n"
					"health_start_period = 1m\n"
					"health_action = none\n"
					"critical = yes\n");
	struct program_config *web = config_find_program(c, "web");
	struct program_config *migrate = config_find_program(c, "migrate");

	(void)state;
	assert_int_equal(web->nrequires, 3);
	assert_string_equal(web->requires[0].name, "db");
	assert_int_equal(web->requires[0].condition, REQUIRE_HEALTHY);
	assert_string_equal(web->requires[1].name, "migrate");
	assert_int_equal(web->requires[1].condition, REQUIRE_COMPLETED);
	assert_string_equal(web->requires[2].name, "cache");
	assert_int_equal(web->requires[2].condition, REQUIRE_RUNNING);
	assert_int_equal(web->requires_line, 11);
	assert_string_equal(web->health_check, "http://127.0.0.1:8080/healthz?full=1");
	assert_int_equal(web->health_check_line, 12);
	assert_int_equal(web->health_interval, 5 * SEC);
	assert_int_equal(web->health_timeout, 500 * MS);
	assert_int_equal(web->health_retries, 1000);
	assert_int_equal(web->health_start_period, 60 * SEC);
	assert_int_equal(web->health_action, HEALTH_ACTION_NONE);
	assert_true(web->critical);
	assert_false(config_find_program(c, "db")->critical);

	/* a oneshot restarts on failure unless told otherwise */
	assert_int_equal(migrate->type, PROGRAM_ONESHOT);
	assert_int_equal(migrate->restart, RESTART_ON_FAILURE);
	assert_false(migrate->restart_set);
	config_free(c);

	/* health_action = restart, critical = no, an empty requires = */
	c = load_text_ok("values/explicit.conf",
			 "[program:a]\ncommand = x\nhealth_action = restart\ncritical = no\nrequires =\n"
			 "health_check = exec:/bin/true\n");
	assert_int_equal(c->programs[0]->health_action, HEALTH_ACTION_RESTART);
	assert_false(c->programs[0]->critical);
	assert_int_equal(c->programs[0]->nrequires, 0);
	assert_null(c->programs[0]->requires);
	config_free(c);
}

static void test_oneshot(void **state)
{
	struct config *c = load_text_ok("oneshot/vigil.conf",
					"[program:migrate]\n"
					"command = /bin/true\n"
					"type = oneshot\n"
					"restart = never\n"
					"start_secs = 5s\n" /* does not apply, and is no error */
					"[program:seed]\n"
					"command = /bin/true\n"
					"type = oneshot\n"
					"restart = on-failure\n"
					"numprocs = 2\n"
					"[program:web]\n"
					"command = /bin/true\n"
					"requires = migrate, seed:running, cache\n"
					"[program:cache]\n"
					"command = /bin/true\n");
	struct program_config *web = config_find_program(c, "web");

	(void)state;
	assert_int_equal(config_find_program(c, "migrate")->restart, RESTART_NEVER);
	assert_true(config_find_program(c, "migrate")->restart_set);
	assert_int_equal(config_find_program(c, "seed")->restart, RESTART_ON_FAILURE);
	/* a oneshot is never RUNNING for long: requiring it means completed */
	assert_int_equal(web->requires[0].condition, REQUIRE_COMPLETED);
	assert_int_equal(web->requires[1].condition, REQUIRE_COMPLETED);
	assert_int_equal(web->requires[2].condition, REQUIRE_RUNNING);
	config_free(c);
}

/* health_check is expanded per instance: instance 0 must parse. */
static void test_health_check_expanded(void **state)
{
	struct config *c = load_text_ok("expand/vigil.conf",
					"[program:w]\ncommand = x\nnumprocs = 3\n"
					"health_check = http://localhost:80%(process_num)02d/%(program_name)s\n");

	(void)state;
	assert_string_equal(c->programs[0]->health_check, "http://localhost:80%(process_num)02d/%(program_name)s");
	config_free(c);
}

/* ---- reload equality -------------------------------------------------------- */

static void test_equal_compares_new_fields(void **state)
{
	static const char *const variants[] = {
		"requires = b, c\n",		/* another order */
		"requires = b:healthy, c\n",	/* another condition */
		"requires = b\n",		/* one fewer */
		"health_check = tcp://127.0.0.1:2\n",
		"health_interval = 11s\n",
		"health_timeout = 3s\n",
		"health_retries = 4\n",
		"health_start_period = 1s\n",
		"health_action = none\n",
		"critical = yes\n",
		"type = oneshot\n",
	};
	const char *head = "[program:b]\ncommand = x\nhealth_check = tcp://127.0.0.1:9\n"
			   "[program:c]\ncommand = x\n[program:a]\ncommand = x\n";
	char *text = xasprintf("%srequires = c, b\nhealth_check = tcp://127.0.0.1:1\n", head);
	struct config *base = load_text_ok("equal/base.conf", text), *same;

	(void)state;
	free(text);
	/* the same section, written elsewhere with other spacing, is equal */
	text = xasprintf("; moved\n\n%srequires = c,b\nhealth_check = tcp://127.0.0.1:1\n", head);
	same = load_text_ok("equal/same.conf", text);
	assert_true(program_config_equal(config_find_program(base, "a"), config_find_program(same, "a")));
	config_free(same);
	free(text);
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		struct config *other;
		bool has_requires = strncmp(variants[i], "requires", 8) == 0;
		bool has_check = strncmp(variants[i], "health_check", 12) == 0 || strncmp(variants[i], "type", 4) == 0;

		text = xasprintf("%s%s%s%s", head, variants[i], has_requires ? "" : "requires = c, b\n",
				 has_check ? "" : "health_check = tcp://127.0.0.1:1\n");
		other = load_text_ok("equal/other.conf", text);
		if (program_config_equal(config_find_program(base, "a"), config_find_program(other, "a")))
			fail_msg("program_config_equal ignores \"%s\"", variants[i]);
		config_free(other);
		free(text);
	}
	config_free(base);
}

/* ---- errors while parsing a value -------------------------------------------- */

static void test_requires_value_errors(void **state)
{
	(void)state;
	expect_one_error("rv/empty.conf", "[program:a]\ncommand = x\nrequires = b,,c\n",
			 "3: [program:a] requires: empty entry (write NAME[:running|healthy|completed], ...)");
	expect_one_error("rv/trailing.conf", "[program:a]\ncommand = x\nrequires = b,\n",
			 "3: [program:a] requires: empty entry (write NAME[:running|healthy|completed], ...)");
	expect_one_error("rv/blank.conf", "[program:a]\ncommand = x\nrequires = b, ,c\n",
			 "3: [program:a] requires: empty entry");
	expect_one_error("rv/noname.conf", "[program:a]\ncommand = x\nrequires = :healthy\n",
			 "3: [program:a] requires: \":healthy\": no program name before the \":\"");
	expect_one_error("rv/nocond.conf", "[program:a]\ncommand = x\nrequires = b:\n",
			 "3: [program:a] requires: \"b:\": no condition after the \":\" (running|healthy|completed)");
	expect_one_error("rv/badcond.conf", "[program:a]\ncommand = x\nrequires = b:up\n",
			 "3: [program:a] requires: \"up\" is not a condition (running|healthy|completed)");
	expect_one_error("rv/instance.conf", "[program:a]\ncommand = x\nrequires = web:1\n",
			 "3: [program:a] requires: \"web:1\" names one instance; require the program \"web\" (all its instances)");
	expect_one_error("rv/instance2.conf", "[program:a]\ncommand = x\nrequires = db, web:1:healthy\n",
			 "3: [program:a] requires: \"web:1:healthy\" names one instance; require the program \"web\"");
	expect_one_error("rv/twice.conf", "[program:a]\ncommand = x\nrequires = b, c, b:healthy\n",
			 "3: [program:a] requires: \"b\" is named twice");
	expect_one_error("rv/settwice.conf", "[program:a]\ncommand = x\nrequires = b\nrequires = c\n[program:b]\ncommand = x\n",
			 "4: [program:a] requires: set twice in one section");
}

static void test_health_value_errors(void **state)
{
	(void)state;
	expect_one_error("hv/interval0.conf", "[program:a]\ncommand = x\nhealth_interval = 0\n",
			 "3: [program:a] health_interval: must be more than 0");
	expect_one_error("hv/timeout0.conf", "[program:a]\ncommand = x\nhealth_timeout = 0s\n",
			 "3: [program:a] health_timeout: must be more than 0");
	expect_one_error("hv/interval.conf", "[program:a]\ncommand = x\nhealth_interval = often\n",
			 "3: [program:a] health_interval: \"often\" is not a duration");
	expect_one_error("hv/period.conf", "[program:a]\ncommand = x\nhealth_start_period = -1s\n",
			 "3: [program:a] health_start_period: \"-1s\"");
	expect_one_error("hv/retries0.conf", "[program:a]\ncommand = x\nhealth_retries = 0\n",
			 "3: [program:a] health_retries: \"0\" is not a whole number from 1 to 1000");
	expect_one_error("hv/retries.conf", "[program:a]\ncommand = x\nhealth_retries = 1001\n",
			 "3: [program:a] health_retries: \"1001\" is not a whole number from 1 to 1000");
	expect_one_error("hv/action.conf", "[program:a]\ncommand = x\nhealth_action = kill\n",
			 "3: [program:a] health_action: \"kill\" is not a health_action (restart|none)");
	expect_one_error("hv/critical.conf", "[program:a]\ncommand = x\ncritical = very\n",
			 "3: [program:a] critical: \"very\" is not a boolean");
	expect_one_error("hv/type.conf", "[program:a]\ncommand = x\ntype = forking\n",
			 "3: [program:a] type: \"forking\" is not a type (simple|notify|oneshot)");
}

/* ---- errors of config_check, at the line of the option ---------------------- */

static void test_requires_check_errors(void **state)
{
	(void)state;
	expect_one_error("rc/unknown.conf", "[program:a]\ncommand = x\n\nrequires = nosuch\n",
			 "4: [program:a] requires: no program named \"nosuch\"");
	expect_one_error("rc/self.conf", "[program:a]\ncommand = x\nrequires = a\n",
			 "3: [program:a] requires: a program cannot require itself");
	expect_one_error("rc/healthy.conf",
			 "[program:db]\ncommand = x\n[program:a]\ncommand = x\nrequires = db:healthy\n",
			 "5: [program:a] requires: \"db:healthy\", but [program:db] has no health_check");
	expect_one_error("rc/daemon.conf",
			 "[program:db]\ncommand = x\n[program:p]\ncommand = x\ndaemon = yes\nrequires = db\n",
			 "6: [program:p] requires: a daemon child (daemon = yes) starts with its parent and requires nothing");
	expect_one_error("rc/critical.conf",
			 "[program:p]\ncommand = x\ncritical = yes\ndaemon = yes\n",
			 "3: [program:p] critical: a daemon child (daemon = yes) cannot be critical; mark its parent");
}

static void test_oneshot_errors(void **state)
{
	char *path, *errors;

	(void)state;
	expect_one_error("oc/always.conf", "[program:m]\ncommand = x\nrestart = always\ntype = oneshot\n",
			 "3: [program:m] restart: \"always\" is not for type = oneshot, which runs to completion "
			 "(use on-failure or never)");
	expect_one_error("oc/check.conf", "[program:m]\ntype = oneshot\ncommand = x\nhealth_check = exec:true\n",
			 "4: [program:m] health_check: a oneshot has none (it runs to completion; require it with :completed)");
	/* both at once, in one pass */
	path = write_file("oc/both.conf",
			  "[program:m]\ntype = oneshot\nrestart = always\ncommand = x\nhealth_check = exec:true\n");
	errors = load_bad(path);
	assert_has_line(errors, "%s:3: [program:m] restart: \"always\" is not for type = oneshot", path);
	assert_has_line(errors, "%s:5: [program:m] health_check: a oneshot has none", path);
	assert_int_equal(count_lines(errors), 2);
	free(errors);
	free(path);
}

static void test_health_check_errors(void **state)
{
	(void)state;
	expect_one_error("hc/form.conf", "[program:a]\ncommand = x\n\nhealth_check = htp://x\n",
			 "4: [program:a] health_check: \"htp://x\" is not a health check "
			 "(use http://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND)");
	expect_one_error("hc/port.conf", "[program:a]\ncommand = x\nhealth_check = tcp://127.0.0.1\n",
			 "3: [program:a] health_check: \"tcp://127.0.0.1\": no port");
	expect_one_error("hc/https.conf", "[program:a]\ncommand = x\nhealth_check = https://127.0.0.1:443/\n",
			 "3: [program:a] health_check: \"https://127.0.0.1:443/\": https is not supported");
	expect_one_error("hc/exec.conf", "[program:a]\ncommand = x\nhealth_check = exec:\n",
			 "3: [program:a] health_check: exec: empty command");
	expect_one_error("hc/resolve.conf", "[program:a]\ncommand = x\nhealth_check = tcp://no-such-host.invalid:80\n",
			 "3: [program:a] health_check: cannot resolve \"no-such-host.invalid\": ");
	expect_one_error("hc/expand.conf", "[program:a]\ncommand = x\nhealth_check = tcp://127.0.0.1:%(port)d\n",
			 "3: [program:a] health_check: unknown %%(...) variable");
}

/* ---- cycles ---------------------------------------------------------------- */

static void test_cycle_named_in_full_once(void **state)
{
	(void)state;
	/* named from where the walk finds it, once, not once per member */
	expect_one_error("cy/three.conf",
			 "[program:a]\ncommand = x\nrequires = b\n"
			 "[program:b]\ncommand = x\nrequires = c\n"
			 "[program:c]\ncommand = x\nrequires = a\n",
			 "3: [program:a] requires: cycle a -> b -> c -> a");
	expect_one_error("cy/two.conf",
			 "[program:x]\ncommand = x\n\n\nrequires = y:running\n"
			 "[program:y]\ncommand = x\nrequires = x\n",
			 "5: [program:x] requires: cycle x -> y -> x");
	/* entered from outside: named from the first member the walk meets */
	expect_one_error("cy/entered.conf",
			 "[program:top]\ncommand = x\nrequires = b\n"
			 "[program:c]\ncommand = x\nrequires = d\n"
			 "[program:b]\ncommand = x\nrequires = c\n"
			 "[program:d]\ncommand = x\nrequires = b\n",
			 "9: [program:b] requires: cycle b -> c -> d -> b");
}

static void test_two_cycles_and_other_errors_in_one_pass(void **state)
{
	char *path = write_file("cy/many.conf",
				"[program:a]\ncommand = x\nrequires = b, nosuch\n"		/* 1-3 */
				"[program:b]\ncommand = x\nrequires = a\n"			/* 4-6 */
				"[program:c]\ncommand = x\nrequires = d:healthy\n"		/* 7-9 */
				"[program:d]\ncommand = x\nrequires = c\nhealth_check = exec:x\n" /* 10-13 */
				"[program:e]\ncommand = x\nrequires = e\n");			/* 14-16 */
	char *errors = load_bad(path);

	(void)state;
	assert_has_line(errors, "%s:3: [program:a] requires: no program named \"nosuch\"", path);
	assert_has_line(errors, "%s:16: [program:e] requires: a program cannot require itself", path);
	assert_has_line(errors, "%s:3: [program:a] requires: cycle a -> b -> a", path);
	assert_has_line(errors, "%s:9: [program:c] requires: cycle c -> d -> c", path);
	assert_int_equal(count_lines(errors), 4);
	free(errors);
	free(path);
}

/* The walk has its own stack: a chain as long as a big config is fine,
 * and a ring of all of it is one cycle. */
static void test_long_chain(void **state)
{
	enum { N = 20000 };
	char *text = NULL, *path, *errors;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	struct config *c;

	(void)state;
	for (int i = 0; i < N; i++)
		fprintf(f, "[program:p%d]\ncommand = x\n%s%d\n", i, i + 1 < N ? "requires = p" : "; ", i + 1);
	fclose(f);
	path = write_file("chain/ok.conf", text);
	c = load_ok(path);
	assert_int_equal(c->nprograms, N);
	config_free(c);
	free(path);
	free(text);

	f = open_memstream(&text, &size);
	for (int i = 0; i < N; i++)
		fprintf(f, "[program:p%d]\ncommand = x\nrequires = p%d\n", i, (i + 1) % N);
	fclose(f);
	path = write_file("chain/ring.conf", text);
	errors = load_bad(path);
	assert_int_equal(count_lines(errors), 1);
	assert_has_line(errors, "%s:3: [program:p0] requires: cycle p0 -> p1 -> p2 -> ", path);
	assert_non_null(strstr(errors, " -> p19999 -> p0\n"));
	free(errors);
	free(path);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_oneshot),
		cmocka_unit_test(test_health_check_expanded),
		cmocka_unit_test(test_equal_compares_new_fields),
		cmocka_unit_test(test_requires_value_errors),
		cmocka_unit_test(test_health_value_errors),
		cmocka_unit_test(test_requires_check_errors),
		cmocka_unit_test(test_oneshot_errors),
		cmocka_unit_test(test_health_check_errors),
		cmocka_unit_test(test_cycle_named_in_full_once),
		cmocka_unit_test(test_two_cycles_and_other_errors_in_one_pass),
		cmocka_unit_test(test_long_chain),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
