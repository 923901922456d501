/*
 * result.h - the result CSV of a batch, written from the state store alone (the input file is
 * not needed): one row per input row in input order (SPEC §8). Written to a temporary file
 * beside the path and renamed (batch/util/outfile), so a partial file is never presented.
 */
#ifndef PB_SEND_RESULT_H
#define PB_SEND_RESULT_H

#include "batch/store/store.h"

/* 0, or PB_EIO (the file: message names it and the cause), PB_ENOMEM, a store error. */
int pb_result_write(pb_store *st, const char *batch_name, const char *path);

#endif
