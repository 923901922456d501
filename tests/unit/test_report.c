/* The report writers: JSON report (valid JSON whatever the message bytes), invalid-rows CSV
 * and the summary (accounts masked in all three, formulas neutralised in the CSV). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "formats/global.h"
#include "formats/report.h"

static const char csv[] =
    "method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name\n"
    "gcash,ok-1,150000,PHP,c-1,10.0.0.1,09171234567,Juan\n"
    "gcash,=bad,150000,PHP,c-2,10.0.0.1,0917123456,Juan\n";

typedef struct {
    FILE *invalid;
    pb_validator *v;
    pb_json_report *json;
    pb_summary *sum;
} outs;

static int on_row(const pb_row_report *r, void *ctx)
{
    outs *o = ctx;
    if (!r->valid)
        assert_int_equal(pb_invalid_csv_row(o->invalid, pb_validator_header(o->v), r, ','), PB_OK);
    return 0;
}

static void on_finding(const pb_finding *f, void *ctx)
{
    outs *o = ctx;
    assert_int_equal(pb_json_report_finding(o->json, f), PB_OK);
    assert_int_equal(pb_summary_add(o->sum, f), PB_OK);
}

static void test_writers(void **state)
{
    char *jtxt = NULL, *itxt = NULL, *stxt = NULL;
    size_t jlen = 0, ilen = 0, slen = 0;
    FILE *jf = open_memstream(&jtxt, &jlen), *sf = open_memstream(&stxt, &slen);
    pb_validator_opts vo;
    pb_validator *v = NULL;
    pb_finding odd;
    cJSON *doc, *fs, *msg;
    outs o;
    (void)state;
    assert_non_null(jf);
    assert_non_null(sf);
    o.invalid = open_memstream(&itxt, &ilen);
    assert_non_null(o.invalid);
    assert_int_equal(pb_json_report_open(&o.json, jf, "validate", "in \"x\".csv"), PB_OK);
    assert_int_equal(pb_summary_new(&o.sum, 5), PB_OK);
    memset(&vo, 0, sizeof(vo));
    vo.on_row = on_row;
    vo.on_finding = on_finding;
    vo.on_file_finding = on_finding;
    vo.ctx = &o;
    assert_int_equal(pb_validator_new(&v, &vo), PB_OK);
    o.v = v;
    assert_int_equal(pb_validator_feed(v, csv, sizeof(csv) - 1), PB_OK);
    assert_int_equal(pb_validator_finish(v), PB_OK);
    /* a message with a quote, a line break and a byte that is not UTF-8 */
    pb_finding_make(&odd, PB_F_BAD_CHARACTERS, 9, "c\"ol", 0, "say \"hi\"\nnow \xff.");
    assert_int_equal(pb_json_report_finding(o.json, &odd), PB_OK);
    assert_int_equal(pb_json_report_close(o.json, pb_validator_get_stats(v), "00ff", 65), PB_OK);
    assert_int_equal(pb_summary_print(o.sum, sf, "in.csv", pb_validator_get_stats(v)), PB_OK);
    fclose(jf);
    fclose(sf);
    fclose(o.invalid);

    /* the JSON report parses, and carries the findings as written */
    doc = cJSON_Parse(jtxt);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetObjectItem(doc, "file")->valuestring, "in \"x\".csv");
    fs = cJSON_GetObjectItem(doc, "findings");
    assert_true(cJSON_IsArray(fs));
    assert_true(cJSON_GetArraySize(fs) >= 3);
    msg = cJSON_GetObjectItem(cJSON_GetArrayItem(fs, cJSON_GetArraySize(fs) - 1), "message");
    assert_string_equal(msg->valuestring, "say \"hi\"\nnow \xEF\xBF\xBD.");
    cJSON_Delete(doc);
    /* no output shows the whole account number */
    assert_null(strstr(jtxt, "0917123456"));
    assert_null(strstr(itxt, "0917123456"));
    assert_null(strstr(stxt, "0917123456"));
    assert_non_null(strstr(stxt, "bad-account-number"));
    /* invalid rows only: row number first, the formula-like id neutralised, findings last */
    assert_null(strstr(itxt, "ok-1"));
    assert_non_null(strstr(itxt, "3,gcash,'=bad,"));
    assert_non_null(strstr(itxt, "formula-like: "));
    assert_non_null(strstr(itxt, "******3456"));
    pb_validator_free(v);
    pb_summary_free(o.sum);
    free(jtxt);
    free(itxt);
    free(stxt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writers),
    };
    pb_global_init(); /* cJSON allocates through core/alloc.h */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
