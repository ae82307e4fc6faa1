/* Names that supervisord and systemd users type by habit, and what vigil
 * calls them: one table (config_habit.c) for sections, [program:NAME]
 * options and [vigil] options, so that "unknown option" can say what to
 * write instead. */
#ifndef VIGIL_CONFIG_HABIT_H
#define VIGIL_CONFIG_HABIT_H

#include <stdbool.h>
#include <stddef.h>

enum habit_place { HABIT_SECTION, HABIT_PROGRAM_OPTION, HABIT_VIGIL_OPTION };

/* If name (a section name without its brackets, or an option and its
 * value) is a habit, writes what to say after "unknown ..." into hint
 * ("; vigil's equivalent is ...") and returns true; *option is then the
 * program option it stands for (so that a missing command is not
 * reported too), or NULL. */
bool config_habit(enum habit_place place, const char *name, const char *value, char *hint, size_t hintlen,
		  const char **option);

#endif
