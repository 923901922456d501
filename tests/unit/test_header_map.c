/* Header mapping (SPEC 4): aliases, case and spaces, pass-through, unknown/duplicate/missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/errors.h"
#include "formats/header_map.h"

typedef struct {
    int n;
    pb_finding_code code[16];
    char column[16][64];
} sink;

static void collect(const pb_finding *f, void *ctx)
{
    sink *s = ctx;
    if (s->n < 16) {
        s->code[s->n] = f->code;
        snprintf(s->column[s->n], sizeof(s->column[0]), "%s", f->column ? f->column : "");
        assert_int_equal(f->row, 1);
        assert_true(strlen(f->message) > 10);
        s->n++;
    }
}

/* Map a comma-separated header (no quoting) and return the findings. */
static pb_header_map *map(const char *header, int default_method, sink *s, unsigned *errors)
{
    pb_str f[32];
    size_t n = 0;
    const char *p = header, *c;
    pb_header_map *m = NULL;
    memset(s, 0, sizeof(*s));
    *errors = 0;
    for (;;) {
        c = strchr(p, ',');
        f[n++] = pb_str_make(p, c ? (size_t)(c - p) : strlen(p));
        if (!c)
            break;
        p = c + 1;
    }
    assert_int_equal(pb_header_map_new(&m, f, n, 1, default_method, collect, s, errors), PB_OK);
    assert_non_null(m);
    assert_int_equal(pb_header_map_width(m), n);
    assert_int_equal((int)*errors, s->n);
    return m;
}

static void test_aliases_and_rows(void **state)
{
    sink s;
    unsigned errors;
    pb_header_map *m;
    pb_row row;
    pb_str cells[9] = {pb_str_c("gcash"),       pb_str_c("p-1"), pb_str_c("150000"),
                       pb_str_c("PHP"),         pb_str_c("c-1"), pb_str_c("10.0.0.1"),
                       pb_str_c("09171234567"), pb_str_c("J D"), pb_str_c("a@b.c")};
    (void)state;
    m = map("Method, PAYMENT_ID ,amount,currency,customer_id,ip_address,account_number,"
            "customer_name,customer.email",
            0, &s, &errors);
    assert_int_equal(errors, 0);
    assert_string_equal(pb_header_map_name(m, 1), "PAYMENT_ID"); /* trimmed, as written */
    assert_int_equal(pb_header_map_account_field(m), 6);
    assert_true(pb_header_map_is_sensitive(m, 6));
    assert_false(pb_header_map_is_sensitive(m, 1));
    assert_true(pb_header_map_is_amount(m, 2));
    assert_false(pb_header_map_is_amount(m, 3));
    pb_header_map_row(m, cells, 5, &row);
    assert_int_equal(row.row, 5);
    assert_int_equal(row.cell[PB_COL_ACCOUNT].len, 11);
    assert_memory_equal(row.cell[PB_COL_ACCOUNT].ptr, "09171234567", 11);
    assert_string_equal(row.name[PB_COL_PAYMENT_ID], "PAYMENT_ID");
    assert_null(row.name[PB_COL_AMOUNT_MAJOR]);
    assert_null(row.name[PB_COL_DESCRIPTION]);
    assert_int_equal(row.npass, 1);
    assert_string_equal(row.pass[0].path, "customer.email");
    assert_int_equal(row.pass[0].value.len, 5);
    pb_header_map_free(m);
}

static void test_header_findings(void **state)
{
    sink s;
    unsigned errors;
    (void)state;
    /* a typo is an unknown column, never silently dropped */
    pb_header_map_free(map("method,payment_id,amount,currency,customer_id,ip_address,"
                           "acount_number",
                           0, &s, &errors));
    assert_int_equal(s.n, 2);
    assert_int_equal(s.code[0], PB_F_UNKNOWN_COLUMN);
    assert_int_equal(s.code[1], PB_F_MISSING_COLUMN);
    assert_string_equal(s.column[1], "account.number");
    /* the same column twice, through an alias */
    pb_header_map_free(map("method,payment_id,general.payment_id,amount,currency,customer_id,"
                           "ip_address,account_number",
                           0, &s, &errors));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.code[0], PB_F_DUPLICATE_COLUMN);
    /* both amount columns */
    pb_header_map_free(map("method,payment_id,amount,amount_major,currency,customer_id,"
                           "ip_address,account_number",
                           0, &s, &errors));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.code[0], PB_F_TWO_AMOUNT_COLUMNS);
    /* fields paybatch sets itself may not come from the file */
    pb_header_map_free(map("method,payment_id,amount,currency,customer_id,ip_address,"
                           "account_number,general.project_id",
                           0, &s, &errors));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.code[0], PB_F_UNKNOWN_COLUMN);
    /* no method column: an error unless --method; the message lists the table's methods */
    pb_header_map_free(
        map("payment_id,amount,currency,customer_id,ip_address,account_number", 0, &s, &errors));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.code[0], PB_F_MISSING_COLUMN);
    assert_string_equal(s.column[0], "method");
    pb_header_map_free(
        map("payment_id,amount,currency,customer_id,ip_address,account_number", 1, &s, &errors));
    assert_int_equal(s.n, 0);
}

static void test_alloc_failures(void **state)
{
    pb_str f[3] = {pb_str_c("payment_id"), pb_str_c("customer.email"), pb_str_c("x.y")};
    pb_header_map *m = NULL;
    unsigned errors = 0;
    sink s;
    long n;
    int rc = PB_ENOMEM;
    (void)state;
    for (n = 0; n < 64 && rc != PB_OK; n++) {
        memset(&s, 0, sizeof(s));
        pb_alloc_fail_after(n);
        rc = pb_header_map_new(&m, f, 3, 1, 1, collect, &s, &errors);
        pb_alloc_fail_after(-1);
        assert_true(rc == PB_OK || rc == PB_ENOMEM);
        if (rc != PB_OK)
            assert_null(m);
    }
    assert_int_equal(rc, PB_OK);
    pb_header_map_free(m);
    pb_header_map_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aliases_and_rows),
        cmocka_unit_test(test_header_findings),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
