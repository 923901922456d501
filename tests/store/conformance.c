/*
 * conformance.c - the store contract, run unchanged against every backend.
 *
 * Included by tests/unit/test_store_<backend>.c, which first defines
 *   static const char *pb_conf_uri(void);   a fresh, empty store location per call
 * and then lists PB_CONFORMANCE_TESTS in its cmocka group (plus its own tests).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "batch/store/store.h"
#include "core/alloc.h"
#include "core/errors.h"

static const char *pb_conf_uri(void);

static const char pb_conf_sha_a[] =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char pb_conf_sha_b[] =
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static pb_store *conf_open(void)
{
    pb_store *st = NULL;
    int rc = pb_store_open(&st, pb_conf_uri());
    if (rc != 0)
        fprintf(stderr, "open: %s\n", pb_error_last());
    assert_int_equal(rc, 0);
    return st;
}

static pb_batch_key conf_key(const char *name, const char *sha)
{
    pb_batch_key k;
    memset(&k, 0, sizeof(k));
    k.name = name;
    k.file_name = "payouts.csv";
    k.file_sha256 = sha;
    k.settings = "concurrency=8\n";
    k.delimiter = ';';
    k.had_bom = 1;
    k.created_at_ms = 1000;
    return k;
}

static uint64_t conf_batch(pb_store *st, const char *name, const char *sha)
{
    pb_batch_key k = conf_key(name, sha);
    pb_batch_info bi;
    int created;
    assert_int_equal(pb_store_batch_begin(st, &k, &bi, &created), 0);
    assert_int_equal(created, 1);
    uint64_t id = bi.id;
    pb_batch_info_clear(&bi);
    return id;
}

static void conf_row(pb_store_row *r, uint32_t row_no, const char *id, int64_t amount,
                     const char *cur)
{
    memset(r, 0, sizeof(*r));
    r->row_no = row_no;
    r->state = PB_ROW_QUEUED;
    snprintf(r->payment_id, sizeof(r->payment_id), "%s", id);
    snprintf(r->method, sizeof(r->method), "card");
    r->amount = amount;
    snprintf(r->currency, sizeof(r->currency), "%s", cur);
    snprintf(r->account_masked, sizeof(r->account_masked), "4111****1111");
    r->updated_at_ms = 1000;
}

/* A batch with rows 2..n+1 queued, payment ids "<prefix>-<row>", 100 minor units each. */
static uint64_t conf_filled(pb_store *st, const char *name, const char *sha, uint32_t n)
{
    uint64_t b = conf_batch(st, name, sha);
    pb_store_row *rows = pb_calloc(n ? n : 1, sizeof(*rows));
    char id[64];
    uint32_t i;
    assert_non_null(rows);
    for (i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%s-%u", name, i + 2);
        conf_row(&rows[i], i + 2, id, 100, "EUR");
    }
    assert_int_equal(pb_store_rows_add(st, b, rows, n), 0);
    pb_free(rows);
    return b;
}

static pb_row_update conf_upd(uint32_t row_no, pb_row_state from, pb_row_state to)
{
    pb_row_update u;
    memset(&u, 0, sizeof(u));
    u.row_no = row_no;
    u.from = from;
    u.to = to;
    u.at_ms = 5000;
    return u;
}

static pb_row_state conf_state(pb_store *st, uint64_t b, uint32_t row_no)
{
    pb_store_row r;
    pb_row_state s;
    assert_int_equal(pb_store_row_get(st, b, row_no, &r), 0);
    s = r.state;
    pb_store_row_clear(&r);
    return s;
}

static int conf_batch_cb(const pb_batch_info *bi, void *payload)
{
    pb_batch_info *seen = payload;
    size_t i = 0;
    while (seen[i].id)
        i++;
    seen[i].id = bi->id;
    seen[i].finished_at_ms = bi->finished_at_ms;
    seen[i].name = pb_strdup(bi->name);
    return 0;
}

static void test_conf_batch_begin(void **state)
{
    pb_store *st = conf_open();
    pb_batch_key k = conf_key("march", pb_conf_sha_a);
    pb_batch_info bi, again, seen[4];
    char hdr[] = "\0\0\0\2id\0\0\0\6amount";
    int created, i;
    (void)state;
    k.header = hdr;
    k.header_len = sizeof(hdr) - 1;
    assert_int_equal(pb_store_batch_begin(st, &k, &bi, &created), 0);
    assert_int_equal(created, 1);
    assert_true(bi.id > 0);
    assert_string_equal(bi.name, "march");
    assert_string_equal(bi.file_name, "payouts.csv");
    assert_string_equal(bi.file_sha256, pb_conf_sha_a);
    assert_string_equal(bi.settings, "concurrency=8\n");
    assert_int_equal(bi.header_len, sizeof(hdr) - 1);
    assert_memory_equal(bi.header, hdr, sizeof(hdr) - 1);
    assert_int_equal(bi.delimiter, ';');
    assert_int_equal(bi.had_bom, 1);
    assert_int_equal(bi.created_at_ms, 1000);
    assert_int_equal(bi.finished_at_ms, 0);
    /* resume: same name and file */
    assert_int_equal(pb_store_batch_begin(st, &k, &again, &created), 0);
    assert_int_equal(created, 0);
    assert_int_equal(again.id, bi.id);
    pb_batch_info_clear(&again);
    /* same name, another file: refused, naming both */
    k.file_sha256 = pb_conf_sha_b;
    assert_int_equal(pb_store_batch_begin(st, &k, &again, &created), PB_EEXISTS);
    assert_non_null(strstr(pb_error_last(), pb_conf_sha_a));
    assert_non_null(strstr(pb_error_last(), pb_conf_sha_b));
    assert_non_null(strstr(pb_error_last(), "march"));
    assert_null(again.name);
    /* bad keys */
    k.file_sha256 = "abc";
    assert_int_equal(pb_store_batch_begin(st, &k, &again, &created), PB_EINVAL);
    k.file_sha256 = pb_conf_sha_b;
    k.name = "";
    assert_int_equal(pb_store_batch_begin(st, &k, &again, &created), PB_EINVAL);
    /* a second batch, finish, list */
    k.name = "april";
    assert_int_equal(pb_store_batch_begin(st, &k, &again, &created), 0);
    assert_int_equal(created, 1);
    assert_true(again.id != bi.id);
    assert_int_equal(pb_store_batch_finish(st, bi.id, 7777), 0);
    assert_int_equal(pb_store_batch_finish(st, 999, 7777), PB_ENOTFOUND);
    memset(seen, 0, sizeof(seen));
    assert_int_equal(pb_store_batches_each(st, conf_batch_cb, seen), 0);
    assert_int_equal(seen[0].id, bi.id);
    assert_string_equal(seen[0].name, "march");
    assert_int_equal(seen[0].finished_at_ms, 7777);
    assert_int_equal(seen[1].id, again.id);
    assert_string_equal(seen[1].name, "april");
    assert_int_equal(seen[2].id, 0);
    for (i = 0; i < 2; i++)
        pb_free(seen[i].name);
    pb_batch_info_clear(&bi);
    pb_batch_info_clear(&again);
    pb_batch_info_clear(NULL);
    pb_store_free(st);
    pb_store_free(NULL);
}

static void test_conf_rows_add(void **state)
{
    pb_store *st = conf_open();
    uint64_t b = conf_batch(st, "b", pb_conf_sha_a);
    pb_store_row rows[3], got;
    char findings[] = "bad-amount,missing-value";
    (void)state;
    conf_row(&rows[0], 2, "p-2", 150000, "PHP");
    conf_row(&rows[1], 3, "", 0, "");
    rows[1].state = PB_ROW_INVALID;
    rows[1].findings = findings;
    conf_row(&rows[2], 4, "p-4", -5, "EUR");
    rows[2].next_at_ms = 42;
    assert_int_equal(pb_store_rows_add(st, b, rows, 3), 0);
    assert_int_equal(pb_store_row_get(st, b, 2, &got), 0);
    assert_int_equal(got.batch, b);
    assert_int_equal(got.state, PB_ROW_QUEUED);
    assert_string_equal(got.payment_id, "p-2");
    assert_string_equal(got.method, "card");
    assert_int_equal(got.amount, 150000);
    assert_string_equal(got.currency, "PHP");
    assert_string_equal(got.account_masked, "4111****1111");
    assert_non_null(got.cells);
    assert_int_equal(got.cells_len, 0);
    assert_null(got.findings);
    assert_int_equal(got.attempts, 0);
    assert_int_equal(got.updated_at_ms, 1000);
    pb_store_row_clear(&got);
    assert_int_equal(pb_store_row_get(st, b, 3, &got), 0);
    assert_int_equal(got.state, PB_ROW_INVALID);
    assert_string_equal(got.findings, findings);
    pb_store_row_clear(&got);
    assert_int_equal(pb_store_row_get(st, b, 4, &got), 0);
    assert_int_equal(got.amount, -5);
    assert_int_equal(got.next_at_ms, 42);
    pb_store_row_clear(&got);
    assert_int_equal(pb_store_row_get(st, b, 5, &got), PB_ENOTFOUND);
    assert_int_equal(pb_store_row_get(st, 999, 2, &got), PB_ENOTFOUND);
    /* one transaction: a duplicate row number refuses the whole group */
    conf_row(&rows[0], 10, "p-10", 1, "EUR");
    conf_row(&rows[1], 4, "p-4b", 1, "EUR");
    assert_int_equal(pb_store_rows_add(st, b, rows, 2), PB_EEXISTS);
    assert_int_equal(pb_store_row_get(st, b, 10, &got), PB_ENOTFOUND);
    assert_int_equal(pb_store_row_by_payment_id(st, "p-10", 4, &got), PB_ENOTFOUND);
    /* duplicates inside one group too */
    conf_row(&rows[0], 11, "p-11", 1, "EUR");
    conf_row(&rows[1], 11, "p-11b", 1, "EUR");
    assert_int_equal(pb_store_rows_add(st, b, rows, 2), PB_EEXISTS);
    assert_int_equal(pb_store_row_get(st, b, 11, &got), PB_ENOTFOUND);
    /* new rows are queued or invalid, and a queued row has a payment id */
    conf_row(&rows[0], 12, "p-12", 1, "EUR");
    rows[0].state = PB_ROW_SENDING;
    assert_int_equal(pb_store_rows_add(st, b, rows, 1), PB_EINVAL);
    conf_row(&rows[0], 12, "", 1, "EUR");
    assert_int_equal(pb_store_rows_add(st, b, rows, 1), PB_EINVAL);
    /* findings say why a row is invalid: a queued row has none */
    conf_row(&rows[0], 12, "p-12", 1, "EUR");
    rows[0].findings = findings;
    assert_int_equal(pb_store_rows_add(st, b, rows, 1), PB_EINVAL);
    assert_non_null(strstr(pb_error_last(), "findings"));
    conf_row(&rows[0], 12, "p-12", 1, "EUR");
    assert_int_equal(pb_store_rows_add(st, 999, rows, 1), PB_ENOTFOUND);
    assert_int_equal(pb_store_rows_add(st, b, rows, 0), 0);
    pb_store_free(st);
}

static void test_conf_payment_ids(void **state)
{
    pb_store *st = conf_open();
    uint64_t a = conf_filled(st, "A", pb_conf_sha_a, 3);
    uint64_t b = conf_batch(st, "B", pb_conf_sha_b);
    pb_store_row rows[2], got;
    char *owner = NULL;
    (void)state;
    assert_int_equal(pb_store_payment_id_owner(st, "A-3", 3, b, &owner), 0);
    assert_string_equal(owner, "A");
    pb_free(owner);
    assert_int_equal(pb_store_payment_id_owner(st, "A-3", 3, a, &owner), PB_ENOTFOUND);
    assert_null(owner);
    assert_int_equal(pb_store_payment_id_owner(st, "A-9", 3, b, &owner), PB_ENOTFOUND);
    /* a prefix is another id */
    assert_int_equal(pb_store_payment_id_owner(st, "A-3x", 2, b, &owner), PB_ENOTFOUND);
    assert_int_equal(pb_store_payment_id_owner(st, "A-3", 0, b, &owner), PB_EINVAL);
    /* two batches can never hold one payable payment id */
    conf_row(&rows[0], 2, "B-2", 1, "EUR");
    conf_row(&rows[1], 3, "A-3", 1, "EUR");
    assert_int_equal(pb_store_rows_add(st, b, rows, 2), PB_EEXISTS);
    assert_int_equal(pb_store_row_get(st, b, 2, &got), PB_ENOTFOUND);
    /* invalid rows are never paid: they may repeat an id */
    rows[1].state = PB_ROW_INVALID;
    assert_int_equal(pb_store_rows_add(st, b, rows, 2), 0);
    assert_int_equal(pb_store_row_by_payment_id(st, "A-3", 3, &got), 0);
    assert_int_equal(got.batch, a);
    assert_int_equal(got.row_no, 3);
    pb_store_row_clear(&got);
    assert_int_equal(pb_store_row_by_payment_id(st, "B-2", 3, &got), 0);
    assert_int_equal(got.batch, b);
    pb_store_row_clear(&got);
    assert_int_equal(pb_store_row_by_payment_id(st, "nope", 4, &got), PB_ENOTFOUND);
    pb_store_free(st);
}

static void test_conf_claim(void **state)
{
    pb_store *st = conf_open();
    uint64_t b = conf_batch(st, "c", pb_conf_sha_a), other;
    pb_store_row rows[10], out[16];
    size_t n;
    uint32_t i;
    (void)state;
    /* rows 2..11, added out of order; row 5 not before t=1000 */
    for (i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof(id), "c-%u", 11 - i);
        conf_row(&rows[i], 11 - i, id, 100, "EUR");
        if (11 - i == 5)
            rows[i].next_at_ms = 1000;
    }
    assert_int_equal(pb_store_rows_add(st, b, rows, 10), 0);
    other = conf_filled(st, "other", pb_conf_sha_b, 5);
    assert_int_equal(pb_store_claim(st, b, 0, 3, out, &n), 0);
    assert_int_equal(n, 3);
    for (i = 0; i < 3; i++) {
        assert_int_equal(out[i].row_no, i + 2);
        assert_int_equal(out[i].state, PB_ROW_SENDING);
        assert_int_equal(out[i].attempts, 1);
        assert_int_equal(out[i].batch, b);
        assert_non_null(out[i].cells);
    }
    pb_store_rows_clear(out, n);
    assert_int_equal(conf_state(st, b, 2), PB_ROW_SENDING);
    assert_int_equal(pb_store_claim(st, b, 999, 16, out, &n), 0);
    assert_int_equal(n, 6);
    for (i = 0; i < 6; i++)
        assert_int_equal(out[i].row_no, i + 6);
    pb_store_rows_clear(out, n);
    assert_int_equal(pb_store_claim(st, b, 999, 16, out, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(pb_store_claim(st, b, 1000, 16, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].row_no, 5);
    pb_store_rows_clear(out, n);
    /* a row put back (not sent) is claimed again, attempts counted */
    pb_row_update u = conf_upd(3, PB_ROW_SENDING, PB_ROW_QUEUED);
    u.next_at_ms = 2000;
    assert_int_equal(pb_store_mark(st, b, &u, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pb_store_claim(st, b, 1999, 16, out, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(pb_store_claim(st, b, 2000, 16, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].row_no, 3);
    assert_int_equal(out[0].attempts, 2);
    pb_store_rows_clear(out, n);
    /* the other batch was not touched; max 0; unknown batch */
    assert_int_equal(conf_state(st, other, 2), PB_ROW_QUEUED);
    assert_int_equal(pb_store_claim(st, b, 0, 0, out, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(pb_store_claim(st, 999, 0, 4, out, &n), PB_ENOTFOUND);
    assert_int_equal(n, 0);
    pb_store_free(st);
}

static void test_conf_mark(void **state)
{
    pb_store *st = conf_open();
    uint64_t b = conf_filled(st, "m", pb_conf_sha_a, 6);
    pb_store_row out[8], got;
    pb_row_update u[3];
    size_t n, applied;
    (void)state;
    assert_int_equal(pb_store_claim(st, b, 0, 8, out, &n), 0);
    assert_int_equal(n, 6);
    pb_store_rows_clear(out, n);
    /* fields: set when given, "" leaves them */
    u[0] = conf_upd(2, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    snprintf(u[0].request_id, sizeof(u[0].request_id), "req-1");
    snprintf(u[0].gate_status, sizeof(u[0].gate_status), "processing");
    u[0].add_attempt = 1;
    assert_int_equal(pb_store_mark(st, b, u, 1, &applied), 0);
    assert_int_equal(applied, 1);
    u[0] = conf_upd(2, PB_ROW_ACCEPTED, PB_ROW_SUCCESS);
    u[0].at_ms = 6000;
    snprintf(u[0].operation_id, sizeof(u[0].operation_id), "op-9");
    snprintf(u[0].code, sizeof(u[0].code), "0");
    assert_int_equal(pb_store_mark(st, b, u, 1, &applied), 0);
    assert_int_equal(applied, 1);
    assert_int_equal(pb_store_row_get(st, b, 2, &got), 0);
    assert_int_equal(got.state, PB_ROW_SUCCESS);
    assert_string_equal(got.request_id, "req-1");
    assert_string_equal(got.gate_status, "processing");
    assert_string_equal(got.operation_id, "op-9");
    assert_string_equal(got.code, "0");
    assert_int_equal(got.attempts, 2);
    assert_int_equal(got.updated_at_ms, 6000);
    assert_int_equal(got.reversed, 0);
    pb_store_row_clear(&got);
    /* compare-and-set: a late "accepted" after success is skipped, not an error */
    u[0] = conf_upd(2, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    assert_int_equal(pb_store_mark(st, b, u, 1, &applied), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(conf_state(st, b, 2), PB_ROW_SUCCESS);
    /* success -> reversed is the one change of a final state */
    u[0] = conf_upd(2, PB_ROW_SUCCESS, PB_ROW_REVERSED);
    assert_int_equal(pb_store_mark(st, b, u, 1, &applied), 0);
    assert_int_equal(applied, 1);
    assert_int_equal(pb_store_row_get(st, b, 2, &got), 0);
    assert_int_equal(got.state, PB_ROW_REVERSED);
    assert_int_equal(got.reversed, 1);
    pb_store_row_clear(&got);
    /* one group, in order: the second update sees the first; a skipped one is not counted */
    u[0] = conf_upd(3, PB_ROW_SENDING, PB_ROW_IN_DOUBT);
    u[0].next_at_ms = 10000;
    u[1] = conf_upd(3, PB_ROW_IN_DOUBT, PB_ROW_REJECTED);
    u[2] = conf_upd(4, PB_ROW_IN_DOUBT, PB_ROW_SUCCESS);
    assert_int_equal(pb_store_mark(st, b, u, 3, &applied), 0);
    assert_int_equal(applied, 2);
    assert_int_equal(conf_state(st, b, 3), PB_ROW_REJECTED);
    assert_int_equal(conf_state(st, b, 4), PB_ROW_SENDING);
    /* a forbidden transition refuses the whole group before anything is applied */
    u[0] = conf_upd(4, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    u[1] = conf_upd(3, PB_ROW_REJECTED, PB_ROW_SUCCESS);
    applied = 77;
    assert_int_equal(pb_store_mark(st, b, u, 2, &applied), PB_EINVAL);
    assert_int_equal(applied, 0);
    assert_non_null(strstr(pb_error_last(), "rejected -> success"));
    assert_int_equal(conf_state(st, b, 4), PB_ROW_SENDING);
    /* rows that do not exist are skipped; applied may be NULL */
    u[0] = conf_upd(99, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    assert_int_equal(pb_store_mark(st, b, u, 1, NULL), 0);
    assert_int_equal(pb_store_mark(st, 999, u, 1, &applied), PB_ENOTFOUND);
    pb_store_free(st);
}

/* A group: every call applies, reads inside see earlier writes, a failing call leaves the
 * others, nothing nests; after group_end everything is there. */
static void test_conf_group(void **state)
{
    pb_store *st = conf_open();
    uint64_t b = conf_filled(st, "g", pb_conf_sha_a, 6);
    pb_store_row out[8];
    pb_row_update u[2];
    size_t n, applied;
    (void)state;
    assert_int_equal(pb_store_group_end(st), PB_EINVAL); /* none open */
    assert_int_equal(pb_store_group_begin(st), 0);
    assert_int_equal(pb_store_group_begin(st), PB_EINVAL); /* no nesting */
    assert_int_equal(pb_store_claim(st, b, 0, 2, out, &n), 0);
    assert_int_equal(n, 2);
    pb_store_rows_clear(out, n);
    u[0] = conf_upd(2, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    assert_int_equal(pb_store_mark(st, b, u, 1, &applied), 0);
    assert_int_equal(applied, 1);
    /* reads inside the group see its writes */
    assert_int_equal(conf_state(st, b, 2), PB_ROW_ACCEPTED);
    assert_int_equal(pb_store_due(st, b, 0, 8, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].row_no, 3);
    pb_store_rows_clear(out, n);
    /* a call that fails inside the group changes nothing and leaves the group usable */
    out[0].row_no = 2;
    conf_row(&out[0], 2, "g-dup", 1, "EUR");
    assert_int_equal(pb_store_rows_add(st, b, out, 1), PB_EEXISTS);
    assert_int_equal(pb_store_claim(st, b, 0, 1, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].row_no, 4);
    pb_store_rows_clear(out, n);
    assert_int_equal(pb_store_group_end(st), 0);
    assert_int_equal(conf_state(st, b, 2), PB_ROW_ACCEPTED);
    assert_int_equal(conf_state(st, b, 3), PB_ROW_SENDING);
    assert_int_equal(conf_state(st, b, 4), PB_ROW_SENDING);
    assert_int_equal(conf_state(st, b, 5), PB_ROW_QUEUED);
    /* a group with no call, and a plain call after a group */
    assert_int_equal(pb_store_group_begin(st), 0);
    assert_int_equal(pb_store_group_end(st), 0);
    u[0] = conf_upd(3, PB_ROW_SENDING, PB_ROW_IN_DOUBT);
    assert_int_equal(pb_store_mark(st, b, u, 1, &applied), 0);
    assert_int_equal(applied, 1);
    assert_int_equal(pb_store_group_begin(NULL), PB_EINVAL);
    assert_int_equal(pb_store_group_end(NULL), PB_EINVAL);
    pb_store_free(st);
}

static void test_conf_every_forbidden_transition(void **state)
{
    pb_store *st = conf_open();
    uint64_t b = conf_filled(st, "t", pb_conf_sha_a, 1);
    pb_row_update u;
    size_t applied;
    int from, to, refused = 0;
    (void)state;
    for (from = 0; from < PB_ROW_STATE_COUNT; from++) {
        for (to = 0; to < PB_ROW_STATE_COUNT; to++) {
            if (pb_row_state_allowed((pb_row_state)from, (pb_row_state)to))
                continue;
            u = conf_upd(2, (pb_row_state)from, (pb_row_state)to);
            assert_int_equal(pb_store_mark(st, b, &u, 1, &applied), PB_EINVAL);
            refused++;
        }
    }
    /* out-of-range states too */
    u = conf_upd(2, PB_ROW_QUEUED, PB_ROW_STATE_COUNT);
    assert_int_equal(pb_store_mark(st, b, &u, 1, &applied), PB_EINVAL);
    assert_true(refused > 60);
    assert_int_equal(conf_state(st, b, 2), PB_ROW_QUEUED);
    /* every final state stays, whatever is tried from a non-final state */
    pb_store_free(st);
}

static void test_conf_final_never_overwritten(void **state)
{
    static const pb_row_state finals[] = {PB_ROW_REJECTED, PB_ROW_SUCCESS, PB_ROW_DECLINE,
                                          PB_ROW_ERROR};
    pb_store *st = conf_open();
    uint64_t b = conf_filled(st, "f", pb_conf_sha_a, 4);
    pb_store_row out[4];
    pb_row_update u;
    size_t n, applied, i;
    int to;
    (void)state;
    assert_int_equal(pb_store_claim(st, b, 0, 4, out, &n), 0);
    pb_store_rows_clear(out, n);
    for (i = 0; i < 4; i++) {
        u = conf_upd((uint32_t)i + 2, PB_ROW_SENDING, finals[i]);
        assert_int_equal(pb_store_mark(st, b, &u, 1, &applied), 0);
        assert_int_equal(applied, 1);
    }
    /* whatever "from" a late update believes, a final row does not move */
    for (i = 0; i < 4; i++) {
        for (to = 0; to < PB_ROW_STATE_COUNT; to++) {
            int from;
            for (from = 0; from < PB_ROW_STATE_COUNT; from++) {
                if (!pb_row_state_allowed((pb_row_state)from, (pb_row_state)to) ||
                    (pb_row_state)from == finals[i])
                    continue;
                u = conf_upd((uint32_t)i + 2, (pb_row_state)from, (pb_row_state)to);
                assert_int_equal(pb_store_mark(st, b, &u, 1, &applied), 0);
                assert_int_equal(applied, 0);
            }
        }
        assert_int_equal(conf_state(st, b, (uint32_t)i + 2), finals[i]);
    }
    pb_store_free(st);
}

static void test_conf_due(void **state)
{
    pb_store *st = conf_open();
    uint64_t b = conf_filled(st, "d", pb_conf_sha_a, 6);
    pb_store_row out[8];
    pb_row_update u[3];
    size_t n;
    (void)state;
    assert_int_equal(pb_store_claim(st, b, 0, 4, out, &n), 0); /* rows 2..5 sending */
    pb_store_rows_clear(out, n);
    u[0] = conf_upd(3, PB_ROW_SENDING, PB_ROW_IN_DOUBT);
    u[0].next_at_ms = 10000;
    u[1] = conf_upd(4, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    u[2] = conf_upd(5, PB_ROW_SENDING, PB_ROW_IN_DOUBT);
    u[2].next_at_ms = 500;
    assert_int_equal(pb_store_mark(st, b, u, 3, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(pb_store_due(st, b, 1000, 8, out, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].row_no, 2);
    assert_int_equal(out[0].state, PB_ROW_SENDING);
    assert_int_equal(out[1].row_no, 5);
    assert_int_equal(out[1].state, PB_ROW_IN_DOUBT);
    pb_store_rows_clear(out, n);
    assert_int_equal(pb_store_due(st, b, 10000, 1, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].row_no, 2);
    pb_store_rows_clear(out, n);
    assert_int_equal(pb_store_due(st, b, 10000, 8, out, &n), 0);
    assert_int_equal(n, 3);
    pb_store_rows_clear(out, n);
    /* read only */
    assert_int_equal(conf_state(st, b, 2), PB_ROW_SENDING);
    assert_int_equal(conf_state(st, b, 3), PB_ROW_IN_DOUBT);
    assert_int_equal(conf_state(st, b, 6), PB_ROW_QUEUED);
    pb_store_free(st);
}

/* next_at (the engine's hint after a restart), batch_get by name, list (the poller's pages) */
static void test_conf_next_list(void **state)
{
    pb_store *st = conf_open();
    uint64_t b = conf_filled(st, "nl", pb_conf_sha_a, 6); /* rows 2..7 queued */
    pb_store_row out[8];
    pb_row_update u[3];
    pb_batch_info info;
    int64_t at;
    size_t n;
    (void)state;
    assert_int_equal(pb_store_next_at(st, b, PB_STORE_NEXT_QUEUED, 0, &at), 0);
    assert_true(at == INT64_MAX);                              /* every queued row is due now */
    assert_int_equal(pb_store_claim(st, b, 0, 3, out, &n), 0); /* rows 2..4 sending */
    pb_store_rows_clear(out, n);
    u[0] = conf_upd(2, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    u[1] = conf_upd(3, PB_ROW_SENDING, PB_ROW_IN_DOUBT);
    u[1].next_at_ms = 7000;
    u[2] = conf_upd(4, PB_ROW_SENDING, PB_ROW_QUEUED);
    u[2].next_at_ms = 5000;
    assert_int_equal(pb_store_mark(st, b, u, 3, &n), 0);
    assert_int_equal(pb_store_next_at(st, b, PB_STORE_NEXT_QUEUED, 1000, &at), 0);
    assert_true(at == 5000);
    assert_int_equal(pb_store_next_at(st, b, PB_STORE_NEXT_PENDING, 1000, &at), 0);
    assert_true(at == 7000);
    assert_int_equal(pb_store_next_at(st, b, PB_STORE_NEXT_PENDING, 7000, &at), 0);
    assert_true(at == INT64_MAX);
    assert_int_equal(pb_store_list(st, b, PB_ROW_QUEUED, 0, 2, out, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].row_no, 4);
    assert_int_equal(out[1].row_no, 5);
    pb_store_rows_clear(out, n);
    assert_int_equal(pb_store_list(st, b, PB_ROW_QUEUED, 5, 8, out, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].row_no, 6);
    assert_int_equal(out[1].row_no, 7);
    pb_store_rows_clear(out, n);
    assert_int_equal(pb_store_list(st, b, PB_ROW_ACCEPTED, 0, 8, out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].row_no, 2);
    pb_store_rows_clear(out, n);
    assert_int_equal(pb_store_batch_get(st, "nl", &info), 0);
    assert_true(info.id == b);
    pb_batch_info_clear(&info);
    assert_int_equal(pb_store_batch_get(st, "no such batch", &info), PB_ENOTFOUND);
    pb_store_free(st);
}

static void test_conf_counts(void **state)
{
    pb_store *st = conf_open();
    uint64_t b = conf_batch(st, "n", pb_conf_sha_a), b2;
    pb_store_row rows[5], out[4];
    pb_batch_counts c;
    pb_row_update u;
    size_t n;
    (void)state;
    conf_row(&rows[0], 2, "n2", 150000, "PHP");
    conf_row(&rows[1], 3, "n3", 250, "EUR");
    conf_row(&rows[2], 4, "n4", 750, "EUR");
    conf_row(&rows[3], 5, "n5", 5, "PHP");
    conf_row(&rows[4], 6, "", 0, "");
    rows[4].state = PB_ROW_INVALID;
    assert_int_equal(pb_store_rows_add(st, b, rows, 5), 0);
    assert_int_equal(pb_store_claim(st, b, 0, 1, out, &n), 0); /* row 2 */
    pb_store_rows_clear(out, n);
    u = conf_upd(2, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    assert_int_equal(pb_store_mark(st, b, &u, 1, &n), 0);
    assert_int_equal(pb_store_counts(st, b, &c), 0);
    assert_int_equal(c.total, 5);
    assert_int_equal(c.rows[PB_ROW_QUEUED], 3);
    assert_int_equal(c.rows[PB_ROW_ACCEPTED], 1);
    assert_int_equal(c.rows[PB_ROW_INVALID], 1);
    assert_int_equal(c.ncur, 3); /* "", EUR, PHP: sorted */
    assert_string_equal(c.cur[0].currency, "");
    assert_int_equal(c.cur[0].rows[PB_ROW_INVALID], 1);
    assert_string_equal(c.cur[1].currency, "EUR");
    assert_int_equal(c.cur[1].rows[PB_ROW_QUEUED], 2);
    assert_int_equal(c.cur[1].amount[PB_ROW_QUEUED], 1000);
    assert_string_equal(c.cur[2].currency, "PHP");
    assert_int_equal(c.cur[2].amount[PB_ROW_ACCEPTED], 150000);
    assert_int_equal(c.cur[2].amount[PB_ROW_QUEUED], 5);
    pb_batch_counts_clear(&c);
    pb_batch_counts_clear(NULL);
    /* a sum past int64 is a range error, never a wrapped number */
    b2 = conf_batch(st, "big", pb_conf_sha_b);
    conf_row(&rows[0], 2, "big2", INT64_MAX, "EUR");
    conf_row(&rows[1], 3, "big3", 1, "EUR");
    assert_int_equal(pb_store_rows_add(st, b2, rows, 2), 0);
    assert_int_equal(pb_store_counts(st, b2, &c), PB_ERANGE);
    assert_null(c.cur);
    assert_int_equal(pb_store_counts(st, 999, &c), PB_ENOTFOUND);
    pb_store_free(st);
}

typedef struct {
    uint32_t row_no[8];
    char *cells[8];
    size_t cells_len[8];
    size_t n;
} conf_walk;

static int conf_walk_cb(const pb_store_row *r, void *payload)
{
    conf_walk *w = payload;
    w->row_no[w->n] = r->row_no;
    w->cells[w->n] = pb_malloc(r->cells_len + 1);
    memcpy(w->cells[w->n], r->cells, r->cells_len);
    w->cells_len[w->n] = r->cells_len;
    w->n++;
    return w->n == 7 ? 99 : 0;
}

static void test_conf_cells_and_order(void **state)
{
    static const char *const texts[] = {"plain", "with \"quotes\"", "a;b,c\td", "two\r\nlines",
                                        "",      "Zoë 𝄞 ₱1,500",    "=1+2",     " spaced "};
    pb_store *st = conf_open();
    uint64_t b = conf_batch(st, "cells", pb_conf_sha_a);
    pb_str cells[9], back[9];
    pb_store_row rows[4];
    conf_walk w;
    char *blob;
    size_t len, n, i, k;
    (void)state;
    for (i = 0; i < 8; i++)
        cells[i] = pb_str_c(texts[i]);
    cells[8] = pb_str_make("nul\0byte", 8);
    assert_int_equal(pb_store_cells_pack(cells, 9, &blob, &len), 0);
    assert_int_equal(pb_store_cells_unpack(blob, len, back, 9, &n), 0);
    assert_int_equal(n, 9);
    assert_int_equal(pb_store_cells_unpack(blob, len, back, 8, &n), PB_ELIMIT);
    assert_int_equal(pb_store_cells_unpack(blob, len - 1, back, 9, &n), PB_EPARSE);
    /* rows 5, 3, 4 in one call and 2 in a later one: the walk is in row order */
    conf_row(&rows[0], 5, "c5", 1, "EUR");
    conf_row(&rows[1], 3, "c3", 1, "EUR");
    conf_row(&rows[2], 4, "c4", 1, "EUR");
    rows[1].cells = blob;
    rows[1].cells_len = len;
    assert_int_equal(pb_store_rows_add(st, b, rows, 3), 0);
    conf_row(&rows[0], 2, "c2", 1, "EUR");
    assert_int_equal(pb_store_rows_add(st, b, rows, 1), 0);
    memset(&w, 0, sizeof(w));
    assert_int_equal(pb_store_rows_each(st, b, conf_walk_cb, &w), 0);
    assert_int_equal(w.n, 4);
    for (i = 0; i < 4; i++)
        assert_int_equal(w.row_no[i], i + 2);
    assert_int_equal(w.cells_len[1], len);
    assert_memory_equal(w.cells[1], blob, len);
    assert_int_equal(pb_store_cells_unpack(w.cells[1], w.cells_len[1], back, 9, &n), 0);
    assert_int_equal(n, 9);
    for (k = 0; k < 9; k++) {
        assert_int_equal(back[k].len, cells[k].len);
        assert_memory_equal(back[k].ptr, cells[k].ptr, cells[k].len);
    }
    for (i = 0; i < w.n; i++)
        pb_free(w.cells[i]);
    /* a claim hands the cells over too (the request is built from them) */
    assert_int_equal(pb_store_claim(st, b, 0, 4, rows, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(rows[1].cells_len, len);
    assert_memory_equal(rows[1].cells, blob, len);
    pb_store_rows_clear(rows, n);
    /* a callback's non-zero return stops the walk and is returned */
    memset(&w, 0, sizeof(w));
    w.n = 3;
    assert_int_equal(pb_store_rows_each(st, b, conf_walk_cb, &w), 99);
    for (i = 3; i < w.n; i++)
        pb_free(w.cells[i]);
    pb_free(blob);
    pb_store_free(st);
}

typedef struct {
    pb_store_inbox_rec rec[4];
    char body[4][64];
    char id[4][32];
    size_t n;
} conf_inbox;

static int conf_inbox_cb(const pb_store_inbox_rec *r, void *payload)
{
    conf_inbox *in = payload;
    in->rec[in->n] = *r;
    memcpy(in->body[in->n], r->body, r->body_len);
    snprintf(in->id[in->n], sizeof(in->id[0]), "%s", r->payment_id ? r->payment_id : "(null)");
    in->n++;
    return 0;
}

static void test_conf_inbox(void **state)
{
    pb_store *st = conf_open();
    pb_store_inbox_rec r;
    conf_inbox in;
    static const char body[] = "{\"payment\":{\"id\":\"p-1\"},\0\"x\":1}";
    (void)state;
    memset(&r, 0, sizeof(r));
    r.received_at_ms = 111;
    r.body = body;
    r.body_len = sizeof(body) - 1;
    r.payment_id = "p-1";
    r.matched = 1;
    r.batch = 1;
    r.row_no = 2;
    assert_int_equal(pb_store_inbox_put(st, &r), 0);
    memset(&r, 0, sizeof(r));
    r.received_at_ms = 222;
    r.body = "{}";
    r.body_len = 2;
    assert_int_equal(pb_store_inbox_put(st, &r), 0);
    memset(&in, 0, sizeof(in));
    assert_int_equal(pb_store_inbox_each(st, conf_inbox_cb, &in), 0);
    assert_int_equal(in.n, 2);
    assert_int_equal(in.rec[0].received_at_ms, 111);
    assert_int_equal(in.rec[0].body_len, sizeof(body) - 1);
    assert_memory_equal(in.body[0], body, sizeof(body) - 1);
    assert_string_equal(in.id[0], "p-1");
    assert_int_equal(in.rec[0].matched, 1);
    assert_int_equal(in.rec[0].batch, 1);
    assert_int_equal(in.rec[0].row_no, 2);
    assert_int_equal(in.rec[1].received_at_ms, 222);
    assert_string_equal(in.id[1], "(null)");
    assert_int_equal(in.rec[1].matched, 0);
    pb_store_free(st);
}

typedef struct {
    char seen[8][96];
    size_t n;
    int stop_after;
} conf_hits;

static int conf_hit_cb(const pb_store_paid_hit *h, void *payload)
{
    conf_hits *c = payload;
    if (c->n < 8)
        snprintf(c->seen[c->n], sizeof(c->seen[0]), "%s/%u/%s/%s/%lld", h->batch_name, h->row_no,
                 pb_row_state_name(h->state), h->payment_id, (long long)h->at_ms);
    c->n++;
    return c->stop_after && (int)c->n >= c->stop_after ? 42 : 0;
}

typedef struct {
    pb_store *st;
    const char *key;
    uint64_t batch;
    size_t outer, inner;
} conf_nested;

/* asks the same question again from inside the walk (a backend caching its statement must
 * not reuse it while the outer walk still reads it) */
static int conf_nested_cb(const pb_store_paid_hit *h, void *payload)
{
    conf_nested *c = payload;
    conf_hits in;
    (void)h;
    c->outer++;
    memset(&in, 0, sizeof(in));
    if (pb_store_paid_recently(c->st, c->key, c->batch, 0, conf_hit_cb, &in) != 0)
        return -1;
    c->inner += in.n;
    return 0;
}

/* paid-recently (issue #14): rows of other batches with the same payee key, accepted or
 * success, updated at or after the window's start; newest first; the key round-trips. */
static void test_conf_paid_recently(void **state)
{
    static const char key1[] = "1111111111111111111111111111111111111111111111111111111111111111";
    static const char key2[] = "2222222222222222222222222222222222222222222222222222222222222222";
    pb_store *st = conf_open();
    uint64_t a = conf_batch(st, "yesterday", pb_conf_sha_a);
    uint64_t b = conf_batch(st, "today", pb_conf_sha_b);
    pb_store_row rows[5], got, out[8];
    pb_row_update u;
    conf_hits c;
    size_t n, i;
    (void)state;
    for (i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof(id), "y-%zu", i + 2);
        conf_row(&rows[i], (uint32_t)i + 2, id, 500, "PHP");
        memcpy(rows[i].payee_key, i < 4 ? key1 : key2, 65);
    }
    rows[3].state = PB_ROW_INVALID; /* never paid */
    assert_int_equal(pb_store_rows_add(st, a, rows, 5), 0);
    assert_int_equal(pb_store_row_get(st, a, 2, &got), 0);
    assert_string_equal(got.payee_key, key1);
    pb_store_row_clear(&got);
    /* rows 2, 3, 6 sending; 2 accepted at 5000, 3 accepted at 7000 then success at 8000;
     * 4 stays queued (not paid) */
    assert_int_equal(pb_store_claim(st, a, 0, 2, out, &n), 0);
    pb_store_rows_clear(out, n);
    u = conf_upd(2, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    assert_int_equal(pb_store_mark(st, a, &u, 1, NULL), 0);
    u = conf_upd(3, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    u.at_ms = 7000;
    assert_int_equal(pb_store_mark(st, a, &u, 1, NULL), 0);
    u = conf_upd(3, PB_ROW_ACCEPTED, PB_ROW_SUCCESS);
    u.at_ms = 8000;
    assert_int_equal(pb_store_mark(st, a, &u, 1, NULL), 0);

    memset(&c, 0, sizeof(c));
    assert_int_equal(pb_store_paid_recently(st, key1, b, 0, conf_hit_cb, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.seen[0], "yesterday/3/success/y-3/8000");
    assert_string_equal(c.seen[1], "yesterday/2/accepted/y-2/5000");
    /* the window: at its start is inside, one ms later is outside */
    memset(&c, 0, sizeof(c));
    assert_int_equal(pb_store_paid_recently(st, key1, b, 5000, conf_hit_cb, &c), 0);
    assert_int_equal(c.n, 2);
    memset(&c, 0, sizeof(c));
    assert_int_equal(pb_store_paid_recently(st, key1, b, 5001, conf_hit_cb, &c), 0);
    assert_int_equal(c.n, 1);
    memset(&c, 0, sizeof(c));
    assert_int_equal(pb_store_paid_recently(st, key1, b, 8001, conf_hit_cb, &c), 0);
    assert_int_equal(c.n, 0);
    /* the batch itself is not "another batch" */
    memset(&c, 0, sizeof(c));
    assert_int_equal(pb_store_paid_recently(st, key1, a, 0, conf_hit_cb, &c), 0);
    assert_int_equal(c.n, 0);
    /* another key; a callback that stops */
    memset(&c, 0, sizeof(c));
    assert_int_equal(pb_store_paid_recently(st, key2, b, 0, conf_hit_cb, &c), 0);
    assert_int_equal(c.n, 0);
    memset(&c, 0, sizeof(c));
    c.stop_after = 1;
    assert_int_equal(pb_store_paid_recently(st, key1, b, 0, conf_hit_cb, &c), 42);
    assert_int_equal(c.n, 1);
    /* after a walk stopped early the next one starts from the beginning */
    memset(&c, 0, sizeof(c));
    assert_int_equal(pb_store_paid_recently(st, key1, b, 0, conf_hit_cb, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.seen[0], "yesterday/3/success/y-3/8000");
    {
        conf_nested nc = {st, key1, b, 0, 0};
        assert_int_equal(pb_store_paid_recently(st, key1, b, 0, conf_nested_cb, &nc), 0);
        assert_int_equal(nc.outer, 2);
        assert_int_equal(nc.inner, 4);
    }
    /* bad arguments */
    assert_int_equal(pb_store_paid_recently(st, "abc", b, 0, conf_hit_cb, &c), PB_EINVAL);
    assert_int_equal(pb_store_paid_recently(st, key1, b, 0, NULL, &c), PB_EINVAL);
    pb_store_free(st);
}

/* a batch keeps the plan it was sent under (issue #14) */
static void test_conf_batch_plan(void **state)
{
    pb_store *st = conf_open();
    pb_batch_key k = conf_key("planned", pb_conf_sha_a);
    pb_batch_info bi, again;
    int created;
    (void)state;
    k.plan = "digest=sha256:00ff\napprovers=alice,bob\n";
    assert_int_equal(pb_store_batch_begin(st, &k, &bi, &created), 0);
    assert_string_equal(bi.plan, k.plan);
    assert_int_equal(pb_store_batch_get(st, "planned", &again), 0);
    assert_string_equal(again.plan, k.plan);
    pb_batch_info_clear(&again);
    pb_batch_info_clear(&bi);
    k = conf_key("unplanned", pb_conf_sha_b);
    assert_int_equal(pb_store_batch_begin(st, &k, &bi, &created), 0);
    assert_null(bi.plan);
    pb_batch_info_clear(&bi);
    pb_store_free(st);
}

static void test_conf_open_uris(void **state)
{
    pb_store *st = (pb_store *)1;
    (void)state;
    /* a PostgreSQL URI that libpq cannot read (every build has the backend) */
    assert_int_equal(pb_store_open(&st, "postgresql://[::1/paybatch"), PB_EINVAL);
    assert_null(st);
    assert_non_null(strstr(pb_error_last(), "not a valid PostgreSQL URI"));
    assert_int_equal(pb_store_open(&st, ""), PB_EINVAL);
    assert_int_equal(pb_store_open(&st, NULL), PB_EINVAL);
    st = conf_open();
    assert_non_null(pb_store_backend(st));
    pb_store_free(st);
}

/* One session of a caller; every failure must clean up (ASan checks) and report ENOMEM. */
static int conf_session(const char *uri)
{
    pb_store *st = NULL;
    pb_batch_key k = conf_key("alloc", pb_conf_sha_a);
    pb_batch_info bi;
    pb_store_row rows[3], out[3];
    pb_row_update u;
    pb_batch_counts c;
    char *owner = NULL, findings[] = "bad-amount";
    size_t n = 0, applied;
    int created, rc;
    memset(&bi, 0, sizeof(bi));
    memset(&c, 0, sizeof(c));
    if ((rc = pb_store_open(&st, uri)) < 0)
        goto out;
    if ((rc = pb_store_batch_begin(st, &k, &bi, &created)) < 0)
        goto out;
    conf_row(&rows[0], 2, "a2", 5, "EUR");
    conf_row(&rows[1], 3, "a3", 6, "PHP");
    conf_row(&rows[2], 4, "", 0, "");
    rows[2].state = PB_ROW_INVALID;
    rows[2].findings = findings;
    rows[0].cells = "\0\0\0\1x";
    rows[0].cells_len = 5;
    if ((rc = pb_store_rows_add(st, bi.id, rows, 3)) < 0)
        goto out;
    if ((rc = pb_store_claim(st, bi.id, 0, 3, out, &n)) < 0)
        goto out;
    if (n != 2)
        return -1000; /* not an allocation failure: the loop stops on it */
    pb_store_rows_clear(out, n);
    n = 0;
    u = conf_upd(2, PB_ROW_SENDING, PB_ROW_ACCEPTED);
    snprintf(u.message, sizeof(u.message), "accepted");
    snprintf(u.request_id, sizeof(u.request_id), "r-1");
    if ((rc = pb_store_mark(st, bi.id, &u, 1, &applied)) < 0)
        goto out;
    if ((rc = pb_store_due(st, bi.id, 0, 3, out, &n)) < 0)
        goto out;
    pb_store_rows_clear(out, n);
    n = 0;
    if ((rc = pb_store_row_get(st, bi.id, 4, &out[0])) < 0)
        goto out;
    pb_store_row_clear(&out[0]);
    if ((rc = pb_store_counts(st, bi.id, &c)) < 0)
        goto out;
    rc = pb_store_payment_id_owner(st, "a2", 2, bi.id + 1, &owner);
out:
    pb_store_rows_clear(out, n);
    pb_batch_counts_clear(&c);
    pb_batch_info_clear(&bi);
    pb_free(owner);
    pb_store_free(st);
    return rc;
}

static void test_conf_alloc_failures(void **state)
{
    long i;
    int rc = PB_ENOMEM;
    (void)state;
    for (i = 0; rc == PB_ENOMEM && i < 1000; i++) {
        const char *uri = pb_conf_uri();
        pb_alloc_fail_after(i);
        rc = conf_session(uri);
        pb_alloc_fail_after(-1);
    }
    if (rc != 0)
        fprintf(stderr, "after %ld: %d %s\n", i, rc, pb_error_last());
    assert_int_equal(rc, 0);
    assert_true(i > 10);
}

#define PB_CONFORMANCE_TESTS                                                                       \
    cmocka_unit_test(test_conf_open_uris), cmocka_unit_test(test_conf_batch_begin),                \
        cmocka_unit_test(test_conf_rows_add), cmocka_unit_test(test_conf_payment_ids),             \
        cmocka_unit_test(test_conf_claim), cmocka_unit_test(test_conf_mark),                       \
        cmocka_unit_test(test_conf_group), cmocka_unit_test(test_conf_every_forbidden_transition), \
        cmocka_unit_test(test_conf_final_never_overwritten), cmocka_unit_test(test_conf_due),      \
        cmocka_unit_test(test_conf_next_list), cmocka_unit_test(test_conf_counts),                 \
        cmocka_unit_test(test_conf_cells_and_order), cmocka_unit_test(test_conf_inbox),            \
        cmocka_unit_test(test_conf_alloc_failures), cmocka_unit_test(test_conf_paid_recently),     \
        cmocka_unit_test(test_conf_batch_plan)
