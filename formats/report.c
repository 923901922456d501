#include "formats/report.h"

#include "core/alloc.h"
#include "core/errors.h"
#include "formats/csv_writer.h"
#include "formats/json_write.h"

#include <inttypes.h>
#include <string.h>

typedef struct {
    pb_finding f;
    char column[64];
} pb__example;

struct pb_summary {
    size_t per_code; /* examples shown per code; one more is kept so that "... and 1 more" is
                        never printed in place of the finding itself */
    size_t keep;
    uint64_t count[PB_F__COUNT];
    pb__example *ex[PB_F__COUNT];
    size_t nex[PB_F__COUNT];
    unsigned char escalated[PB_F__COUNT]; /* a finding of the code came as an error */
};

int pb_summary_new(pb_summary **out, size_t examples_per_code)
{
    pb_summary *s = pb_calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return PB_ENOMEM;
    s->per_code = examples_per_code;
    s->keep = examples_per_code + 1;
    *out = s;
    return PB_OK;
}

int pb_summary_add(pb_summary *s, const pb_finding *f)
{
    pb__example *e;
    if ((unsigned)f->code >= PB_F__COUNT)
        return PB_EINVAL;
    s->count[f->code]++;
    s->escalated[f->code] |= f->escalated ? 1 : 0;
    if (s->nex[f->code] >= s->keep)
        return PB_OK;
    if (!s->ex[f->code]) {
        /* allocated per code on first use, grown by doubling up to keep */
        s->ex[f->code] = pb_calloc(s->keep < 8 ? s->keep : 8, sizeof(pb__example));
        if (!s->ex[f->code])
            return PB_ENOMEM;
    } else if (s->nex[f->code] >= 8 && (s->nex[f->code] & (s->nex[f->code] - 1)) == 0) {
        size_t n = s->nex[f->code] * 2;
        pb__example *p;
        if (n > s->keep)
            n = s->keep;
        p = pb_realloc(s->ex[f->code], n * sizeof(pb__example));
        if (!p)
            return PB_ENOMEM;
        s->ex[f->code] = p;
    }
    e = &s->ex[f->code][s->nex[f->code]++];
    e->f = *f;
    snprintf(e->column, sizeof(e->column), "%s", f->column ? f->column : "");
    e->f.column = NULL;
    return PB_OK;
}

static void pb__print_totals(FILE *out, const char *label, const pb_currency_total *t, size_t n)
{
    size_t i;
    fprintf(out, "  %s:", label);
    if (n == 0)
        fprintf(out, " none");
    for (i = 0; i < n; i++) {
        char amt[32];
        const pb_currency *c = pb_currency_find(t[i].currency, 3);
        if (t[i].overflow)
            snprintf(amt, sizeof(amt), "(too large to sum)");
        else
            pb_money_format(t[i].amount_minor, c ? c->exponent : 2, amt, sizeof(amt));
        fprintf(out, "%s %s %s in %" PRIu64 " row%s", i ? ";" : "", t[i].currency, amt, t[i].rows,
                t[i].rows == 1 ? "" : "s");
    }
    fprintf(out, "\n");
}

int pb_summary_print(const pb_summary *s, FILE *out, const char *file_name,
                     const pb_validator_stats *st)
{
    int sev, c;
    size_t i, shown;

    fprintf(out,
            "%s: %" PRIu64 " data row%s: %" PRIu64 " valid, %" PRIu64 " invalid, %" PRIu64
            " with warnings",
            file_name, st->rows, st->rows == 1 ? "" : "s", st->valid, st->invalid,
            st->with_warnings);
    if (st->blank)
        fprintf(out, " (%" PRIu64 " blank line%s skipped)", st->blank, st->blank == 1 ? "" : "s");
    fprintf(out, "\n");
    pb__print_totals(out, "valid rows total", st->valid_totals, st->nvalid_totals);
    if (st->invalid)
        pb__print_totals(out, "input total (every row with a readable amount)", st->input_totals,
                         st->ninput_totals);
    for (sev = PB_SEV_ERROR; sev <= PB_SEV_WARNING; sev++) {
        int header = 0;
        for (c = 0; c < PB_F__COUNT; c++) {
            if (!s->count[c] ||
                (int)(s->escalated[c] ? PB_SEV_ERROR : pb_finding_severity((pb_finding_code)c)) !=
                    sev)
                continue;
            if (!header) {
                fprintf(out, "\n%s:\n", sev == PB_SEV_ERROR ? "Errors" : "Warnings");
                header = 1;
            }
            fprintf(out, "  %s: %" PRIu64 "\n", pb_finding_name((pb_finding_code)c), s->count[c]);
            /* one more than per_code: show it rather than say "... and 1 more" */
            shown = s->count[c] <= s->keep ? s->nex[c] : s->per_code;
            for (i = 0; i < shown; i++) {
                const pb__example *e = &s->ex[c][i];
                fprintf(out, "    row %" PRIu64 "%s%s: %s\n", e->f.row, e->column[0] ? ", " : "",
                        e->column, e->f.message);
            }
            if (s->count[c] > shown)
                fprintf(out, "    ... and %" PRIu64 " more (see --report or -v)\n",
                        s->count[c] - shown);
        }
    }
    return ferror(out) ? PB_EIO : PB_OK;
}

void pb_summary_free(pb_summary *s)
{
    int c;
    if (!s)
        return;
    for (c = 0; c < PB_F__COUNT; c++)
        pb_free(s->ex[c]);
    pb_free(s);
}

struct pb_json_report {
    FILE *f;
    pb_buf b;
    uint64_t n;
    uint64_t bytes_read;
    uint64_t stopped_at_row;
    int partial; /* the input was not read to its end */
    int input_set;
    uint64_t omitted[PB_F__COUNT]; /* counted, not written (--max-findings) */
    uint64_t nomitted;
    uint64_t inv_rows_omitted, inv_findings_omitted;
    pb_buf extra; /* raw members added by the caller (pb_json_report_set_extra) */
};

int pb_json_report_set_extra(pb_json_report *r, const char *members, size_t len)
{
    pb_buf_clear(&r->extra);
    return pb_buf_put(&r->extra, members, len);
}

void pb_json_report_omit(pb_json_report *r, const pb_finding *f)
{
    if ((unsigned)f->code < PB_F__COUNT)
        r->omitted[f->code]++;
    r->nomitted++;
}

void pb_json_report_set_invalid_omitted(pb_json_report *r, uint64_t rows, uint64_t findings)
{
    r->inv_rows_omitted = rows;
    r->inv_findings_omitted = findings;
}

void pb_json_report_set_input(pb_json_report *r, uint64_t bytes_read, int complete,
                              uint64_t stopped_at_row)
{
    r->bytes_read = bytes_read;
    r->partial = !complete;
    r->stopped_at_row = stopped_at_row;
    r->input_set = 1;
}

static int pb__flush(pb_json_report *r)
{
    if (r->b.len && fwrite(r->b.ptr, 1, r->b.len, r->f) != r->b.len)
        return PB_EIO;
    pb_buf_clear(&r->b);
    return PB_OK;
}

int pb_json_report_open(pb_json_report **out, FILE *f, const char *command, const char *file_name)
{
    pb_json_report *r = pb_calloc(1, sizeof(*r));
    int rc;
    *out = NULL;
    if (!r)
        return PB_ENOMEM;
    r->f = f;
    pb_buf_init(&r->b, 1024 * 1024);
    pb_buf_init(&r->extra, 1024 * 1024);
    if ((rc = pb_buf_puts(&r->b, "{\"report_version\":1,\"command\":")) < 0 ||
        (rc = pb_json_put_str(&r->b, command, strlen(command))) < 0 ||
        (rc = pb_buf_puts(&r->b, ",\"file\":")) < 0 ||
        (rc = pb_json_put_str(&r->b, file_name, strlen(file_name))) < 0 ||
        (rc = pb_buf_puts(&r->b, ",\"findings\":[")) < 0 || (rc = pb__flush(r)) < 0) {
        pb_json_report_free(r);
        return rc;
    }
    *out = r;
    return PB_OK;
}

int pb_json_report_finding(pb_json_report *r, const pb_finding *f)
{
    const char *name = pb_finding_name(f->code);
    const char *sev = pb_severity_name(pb_finding_sev(f));
    int rc;

    if ((rc = pb_buf_printf(&r->b, "%s\n{\"code\":\"%s\",\"severity\":\"%s\",\"row\":%" PRIu64,
                            r->n ? "," : "", name, sev, f->row)) < 0)
        return rc;
    if (f->column) {
        if ((rc = pb_buf_puts(&r->b, ",\"column\":")) < 0 ||
            (rc = pb_json_put_str(&r->b, f->column, strlen(f->column))) < 0)
            return rc;
    }
    if (f->other_row && (rc = pb_buf_printf(&r->b, ",\"first_row\":%" PRIu64, f->other_row)) < 0)
        return rc;
    if ((rc = pb_buf_puts(&r->b, ",\"message\":")) < 0 ||
        (rc = pb_json_put_str(&r->b, f->message, strlen(f->message))) < 0 ||
        (rc = pb_buf_putc(&r->b, '}')) < 0)
        return rc;
    r->n++;
    return r->b.len > 64 * 1024 ? pb__flush(r) : PB_OK;
}

static int pb__json_totals(pb_buf *b, const char *key, const pb_currency_total *t, size_t n)
{
    size_t i;
    int rc = pb_buf_printf(b, ",\"%s\":[", key);
    for (i = 0; rc == 0 && i < n; i++) {
        char amt[32];
        const pb_currency *c = pb_currency_find(t[i].currency, 3);
        pb_money_format(t[i].amount_minor, c ? c->exponent : 2, amt, sizeof(amt));
        if (t[i].overflow)
            rc = pb_buf_printf(b, "%s{\"currency\":\"%s\",\"rows\":%" PRIu64 ",\"overflow\":true}",
                               i ? "," : "", t[i].currency, t[i].rows);
        else
            rc = pb_buf_printf(b,
                               "%s{\"currency\":\"%s\",\"rows\":%" PRIu64
                               ",\"amount_minor\":%" PRId64 ",\"amount\":\"%s\"}",
                               i ? "," : "", t[i].currency, t[i].rows, t[i].amount_minor, amt);
    }
    return rc < 0 ? rc : pb_buf_putc(b, ']');
}

int pb_json_report_close(pb_json_report *r, const pb_validator_stats *st, const char *sha256_hex,
                         int exit_code)
{
    int rc, c, first = 1;
    char delim[3] = {st->delimiter == '\t' ? '\\' : st->delimiter, st->delimiter == '\t' ? 't' : 0,
                     0};

    rc = pb_buf_printf(
        &r->b,
        "],\"sha256\":\"%s\",\"delimiter\":\"%s\",\"bom\":%s,\"rows\":{\"total\":%" PRIu64
        ",\"valid\":%" PRIu64 ",\"invalid\":%" PRIu64 ",\"with_warnings\":%" PRIu64
        ",\"blank_lines\":%" PRIu64 "},\"file_errors\":%" PRIu64,
        sha256_hex ? sha256_hex : "", st->delimiter ? delim : "", st->had_bom ? "true" : "false",
        st->rows, st->valid, st->invalid, st->with_warnings, st->blank, st->file_errors);
    if (rc == 0)
        rc = pb_buf_printf(&r->b, ",\"sha256_complete\":%s", r->partial ? "false" : "true");
    if (rc == 0 && r->input_set)
        rc = pb_buf_printf(&r->b, ",\"bytes_read\":%" PRIu64, r->bytes_read);
    if (rc == 0 && r->partial)
        rc = pb_buf_printf(&r->b, ",\"stopped_at_row\":%" PRIu64 ",\"rest_unchecked\":true",
                           r->stopped_at_row);
    if (rc == 0)
        rc = pb__json_totals(&r->b, "totals", st->valid_totals, st->nvalid_totals);
    if (rc == 0)
        rc = pb__json_totals(&r->b, "input_totals", st->input_totals, st->ninput_totals);
    if (rc == 0)
        rc = pb_buf_puts(&r->b, ",\"findings_by_code\":{");
    for (c = 0; rc == 0 && c < PB_F__COUNT; c++) {
        if (!st->by_code[c])
            continue;
        rc = pb_buf_printf(&r->b, "%s\"%s\":%" PRIu64, first ? "" : ",",
                           pb_finding_name((pb_finding_code)c), st->by_code[c]);
        first = 0;
    }
    if (rc == 0)
        rc = pb_buf_puts(&r->b, "},\"findings_omitted\":{");
    for (c = 0, first = 1; rc == 0 && c < PB_F__COUNT; c++) {
        if (!r->omitted[c])
            continue;
        rc = pb_buf_printf(&r->b, "%s\"%s\":%" PRIu64, first ? "" : ",",
                           pb_finding_name((pb_finding_code)c), r->omitted[c]);
        first = 0;
    }
    if (rc == 0)
        rc = pb_buf_printf(&r->b,
                           "},\"findings_omitted_total\":%" PRIu64
                           ",\"invalid_out_rows_omitted\":%" PRIu64
                           ",\"invalid_out_findings_omitted\":%" PRIu64,
                           r->nomitted, r->inv_rows_omitted, r->inv_findings_omitted);
    if (rc == 0 && r->extra.len)
        rc = pb_buf_put(&r->b, r->extra.ptr, r->extra.len);
    if (rc == 0)
        rc = pb_buf_printf(&r->b, ",\"findings_total\":%" PRIu64 ",\"exit_code\":%d}\n", r->n,
                           exit_code);
    if (rc == 0)
        rc = pb__flush(r);
    if (rc == 0 && fflush(r->f) != 0)
        rc = PB_EIO;
    pb_json_report_free(r);
    return rc;
}

void pb_json_report_free(pb_json_report *r)
{
    if (!r)
        return;
    pb_buf_free(&r->b);
    pb_buf_free(&r->extra);
    pb_free(r);
}

int pb_invalid_csv_header(FILE *f, const pb_header_map *map, char delimiter, int bom)
{
    size_t i, w = pb_header_map_width(map);
    pb_str *fields = pb_calloc(w + 2, sizeof(pb_str));
    pb_buf b;
    int rc;

    if (!fields)
        return PB_ENOMEM;
    fields[0] = pb_str_c("row");
    for (i = 0; i < w; i++)
        fields[i + 1] = pb_str_c(pb_header_map_name(map, i));
    fields[w + 1] = pb_str_c("findings");
    pb_buf_init(&b, 16 * 1024 * 1024);
    rc = bom ? pb_buf_puts(&b, "\xEF\xBB\xBF") : PB_OK;
    if (rc == 0)
        rc = pb_csv_write_record(&b, fields, w + 2, delimiter, 1);
    if (rc == 0 && fwrite(b.ptr, 1, b.len, f) != b.len)
        rc = PB_EIO;
    pb_buf_free(&b);
    pb_free(fields);
    return rc;
}

int pb_invalid_csv_row(FILE *f, const pb_header_map *map, const pb_row_report *r, char delimiter)
{
    size_t i, n = r->rec->nfields;
    pb_str *fields = pb_calloc(n + 2, sizeof(pb_str));
    char(*masked)[64] = pb_calloc(n ? n : 1, 64);
    char rownum[24];
    pb_buf b, msg;
    int rc = PB_OK;

    if (!fields || !masked) {
        pb_free(fields);
        pb_free(masked);
        return PB_ENOMEM;
    }
    /* room for the largest record the reader accepts, every byte a doubled quote */
    pb_buf_init(&b, (size_t)2 * 1024 * 65536 + 1024 * 1024);
    pb_buf_init(&msg, 64 * 1024);
    snprintf(rownum, sizeof(rownum), "%" PRIu64, r->rec->row);
    fields[0] = pb_str_c(rownum);
    for (i = 0; i < n; i++)
        fields[i + 1] = r->rec->fields[i];
    /*
     * Account numbers are masked here too: this file travels by e-mail. An invalid row may
     * carry the number in the wrong cell (shifted cells, swapped columns), so any cell that is
     * a number of six or more digits is masked as well, except a mapped amount.
     */
    for (i = 0; i < n; i++) {
        const pb_str *c = &r->rec->fields[i];
        size_t k, digits = 0, other = 0;
        for (k = 0; k < c->len; k++) {
            char ch = c->ptr[k];
            if (ch >= '0' && ch <= '9')
                digits++;
            else if (ch != ' ' && ch != '-' && ch != '+' && ch != '.' && ch != '(' && ch != ')')
                other++;
        }
        if (pb_header_map_is_sensitive(map, i) ||
            (digits >= 6 && !other && (!r->row || !pb_header_map_is_amount(map, i)))) {
            pb_mask_account(c->ptr, c->len, masked[i], sizeof(masked[i]));
            fields[i + 1] = pb_str_c(masked[i]);
        }
    }
    for (i = 0; rc == 0 && i < r->nfindings; i++)
        rc = pb_buf_printf(&msg, "%s%s: %s", i ? " | " : "", pb_finding_name(r->findings[i].code),
                           r->findings[i].message);
    if (rc == PB_ELIMIT)
        rc = PB_OK; /* a very long explanation is cut, never fatal */
    fields[n + 1] = pb_str_make(pb_buf_cstr(&msg), msg.len);
    if (rc == 0)
        rc = pb_csv_write_record(&b, fields, n + 2, delimiter, 1);
    if (rc == 0 && fwrite(b.ptr, 1, b.len, f) != b.len)
        rc = PB_EIO;
    pb_buf_free(&b);
    pb_buf_free(&msg);
    pb_free(fields);
    pb_free(masked);
    return rc;
}
