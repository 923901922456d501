/*
 * assert.h - PB_ASSERT(cond): preconditions, i.e. a caller's bug, never bad input (bad input
 * gets an error code). Debug builds abort with the condition, file and line (libc assert);
 * release builds (NDEBUG) compile it away but still type-check cond, so a variable used only
 * in an assertion does not warn.
 */
#ifndef PB_CORE_ASSERT_H
#define PB_CORE_ASSERT_H

#include <assert.h>

#ifdef NDEBUG
#define PB_ASSERT(cond) ((void)sizeof(!(cond)))
#else
#define PB_ASSERT(cond) assert(cond)
#endif

#endif
