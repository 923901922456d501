/*
 * global.h - process-wide set-up of the libraries under formats/.
 *
 * pb_global_init() installs core/alloc.h's allocator as cJSON's (cJSON_InitHooks), so every
 * cJSON allocation can be made to fail by pb_alloc_fail_after() and is counted like ours.
 * Call it once before any cJSON use: main(), every unit test that uses cJSON, every fuzzer.
 * Idempotent; not thread-safe (call it before starting threads). Owns nothing.
 */
#ifndef PB_FORMATS_GLOBAL_H
#define PB_FORMATS_GLOBAL_H

void pb_global_init(void);

#endif
