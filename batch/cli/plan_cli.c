#include "batch/cli/plan_cli.h"

#include "batch/cli/cli.h"
#include "batch/cli/guardrails.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "core/findings.h"
#include "core/money.h"
#include "formats/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PB__FLUSH_AT (64u << 10)

void pb_cli_now_iso(char out[32])
{
    struct timespec ts;
    struct tm tm;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    if (!gmtime_r(&ts.tv_sec, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "%lld", (long long)ts.tv_sec);
}

int pb_cli_read_small(const char *path, size_t max, char **buf, size_t *len)
{
    char *b;
    size_t n = 0;
    ssize_t r = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), e;
    *buf = NULL;
    *len = 0;
    if (fd < 0)
        return -errno;
    if (!(b = pb_malloc(max + 2))) {
        close(fd);
        return -ENOMEM;
    }
    while (n <= max && ((r = read(fd, b + n, max + 1 - n)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            n += (size_t)r;
    e = errno;
    close(fd);
    if (r < 0) {
        pb_free(b);
        return -e;
    }
    if (n > max) {
        pb_free(b);
        return -EFBIG;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

static int pb__flush(pb_cli_plan *p)
{
    if (p->f && p->text.len && fwrite(p->text.ptr, 1, p->text.len, p->f) != p->text.len && !p->rc) {
        pb_error_set("cannot write the plan: %s", strerror(errno));
        p->rc = PB_EIO;
    }
    pb_buf_clear(&p->text);
    return p->rc;
}

int pb_cli_plan_begin(pb_cli_plan *p, const pb_plan_head *h, FILE *f, const char *file_name,
                      const char *created_at, const pb_plan_doc *want)
{
    pb_buf_init(&p->text, 64u << 20);
    p->head = *h;
    p->f = f;
    p->want = want;
    if ((p->rc = pb_plan_hash_new(&p->hash)) < 0 || (p->rc = pb_plan_hash_head(p->hash, h)) < 0)
        return p->rc;
    if (f && (p->rc = pb_plan_write_head(&p->text, file_name, created_at, h)) < 0)
        return p->rc;
    return 0;
}

void pb_cli_plan_finding(pb_cli_plan *p, const pb_finding *f)
{
    if ((unsigned)f->code < PB_F__COUNT)
        p->findings[f->code]++;
}

void pb_cli_plan_row(pb_cli_plan *p, uint32_t row_no, pb_str payment_id, const char *method,
                     int64_t amount, const char *currency, pb_str account)
{
    char id[256], masked[64];
    pb_plan_row r;
    size_t i;
    if (p->rc)
        return;
    snprintf(id, sizeof(id), "%.*s", (int)payment_id.len, payment_id.ptr ? payment_id.ptr : "");
    pb_mask_account(account.ptr ? account.ptr : "", account.len, masked, sizeof(masked));
    r.row_no = row_no;
    r.payment_id = id;
    r.method = method;
    r.amount = amount;
    r.currency = currency;
    r.account_masked = masked;
    for (i = 0; i < p->nmethods && strcmp(p->methods[i], method); i++)
        ;
    if (i == p->nmethods && i < 8)
        snprintf(p->methods[p->nmethods++], sizeof(p->methods[0]), "%s", method);
    if ((p->rc = pb_plan_hash_row(p->hash, &r)) < 0)
        return;
    if (p->f) {
        if ((p->rc = pb_plan_write_row(&p->text, &r, p->nrows == 0)) < 0)
            return;
        if (p->text.len >= PB__FLUSH_AT)
            (void)pb__flush(p);
    }
    if (p->want && !p->row_diff[0]) {
        if (p->nrows >= p->want->nrows) {
            snprintf(p->row_diff, sizeof(p->row_diff),
                     "the file has more rows to send than the plan (row %" PRIu32 " is not in it)",
                     row_no);
        } else {
            const pb_plan_row *w = &p->want->rows[p->nrows];
            if (w->row_no != r.row_no || strcmp(w->payment_id, r.payment_id) ||
                strcmp(w->method, r.method) || w->amount != r.amount ||
                strcmp(w->currency, r.currency) || strcmp(w->account_masked, r.account_masked))
                snprintf(p->row_diff, sizeof(p->row_diff),
                         "row %" PRIu32 " differs: the plan has row %" PRIu32 " %s %s %" PRId64
                         " %s %s; the file has %s %s %" PRId64 " %s %s",
                         row_no, w->row_no, w->payment_id, w->method, w->amount, w->currency,
                         w->account_masked, r.payment_id, r.method, r.amount, r.currency,
                         r.account_masked);
        }
    }
    p->nrows++;
}

static size_t pb__totals(const pb_guard *g, pb_plan_total *t, size_t max)
{
    size_t n = 0;
    const char *cur;
    while (n < max && (cur = pb_guard_currency(g, n)) != NULL) {
        snprintf(t[n].currency, sizeof(t[n].currency), "%s", cur);
        pb_guard_totals(g, cur, &t[n].rows, &t[n].amount);
        n++;
    }
    return n;
}

int pb_cli_plan_end(pb_cli_plan *p, const pb_guard *g, uint64_t valid, uint64_t invalid,
                    char digest[PB_PLAN_DIGEST_LEN + 1])
{
    pb_plan_total tot[64];
    pb_plan_tail t;
    const char *methods[8];
    size_t i;
    if (p->rc)
        return p->rc;
    t.totals = tot;
    t.ntotals = pb__totals(g, tot, 64);
    t.rows_valid = valid;
    t.rows_invalid = invalid;
    t.findings = p->findings;
    for (i = 0; i < p->nmethods; i++)
        methods[i] = p->methods[i];
    if ((p->rc = pb_plan_hash_tail(p->hash, &t)) < 0 ||
        (p->rc = pb_plan_hash_final(p->hash, digest)) < 0)
        return p->rc;
    if (p->f && (p->rc = pb_plan_write_tail(&p->text, &t, methods, p->nmethods, digest)) < 0)
        return p->rc;
    return pb__flush(p);
}

static int pb__limits_same(const pb_guard_money *a, size_t na, const pb_guard_money *b, size_t nb)
{
    size_t i;
    if (na != nb)
        return 0;
    for (i = 0; i < na; i++)
        if (strcmp(a[i].currency, b[i].currency) || a[i].amount != b[i].amount)
            return 0;
    return 1;
}

void pb_cli_plan_diff(const pb_cli_plan *p, const pb_guard *g, uint64_t valid, uint64_t invalid,
                      char *out, size_t outlen)
{
    const pb_plan_head *w = &p->want->head, *h = &p->head;
    const pb_guard_limits *wl = w->limits, *hl = h->limits;
    pb_plan_total tot[64];
    size_t n, i;
    char a[32], b[32];

    out[0] = '\0';
#define PB__STR(field, what)                                                                       \
    if (strcmp(w->field, h->field)) {                                                              \
        snprintf(out, outlen, "%s: the plan has '%s', this run '%s'", what, w->field, h->field);   \
        return;                                                                                    \
    }
    PB__STR(file_sha256, "the file's SHA-256 (the file changed)");
    PB__STR(batch_id, "the batch id");
    PB__STR(gate_url, "the Gate URL");
    PB__STR(callback_url, "the callback URL");
    PB__STR(method, "--method");
#undef PB__STR
    if (w->project_id != h->project_id) {
        snprintf(out, outlen, "the project id: the plan has %" PRId64 ", this run %" PRId64,
                 w->project_id, h->project_id);
        return;
    }
    if (w->rate_milli != h->rate_milli) {
        pb_plan_rate_format(w->rate_milli, a);
        pb_plan_rate_format(h->rate_milli, b);
        snprintf(out, outlen, "the rate: the plan has %s per second, this run %s", a, b);
        return;
    }
    if (w->allow_conversion != h->allow_conversion || w->skip_invalid != h->skip_invalid ||
        w->recent_days != h->recent_days || w->strict_recent != h->strict_recent) {
        snprintf(out, outlen,
                 "--allow-conversion, --skip-invalid, --recent-days or --strict-recent: the plan "
                 "has %d, %d, %u, %d; this run %d, %d, %u, %d",
                 w->allow_conversion, w->skip_invalid, w->recent_days, w->strict_recent,
                 h->allow_conversion, h->skip_invalid, h->recent_days, h->strict_recent);
        return;
    }
    if (!pb__limits_same(wl->max_total, wl->n_max_total, hl->max_total, hl->n_max_total) ||
        !pb__limits_same(wl->max_amount, wl->n_max_amount, hl->max_amount, hl->n_max_amount) ||
        !pb__limits_same(wl->expect_total, wl->n_expect_total, hl->expect_total,
                         hl->n_expect_total) ||
        wl->max_rows != hl->max_rows || wl->expect_rows != hl->expect_rows) {
        snprintf(out, outlen, "the limits or control totals in force differ from the plan's");
        return;
    }
    if (p->row_diff[0]) {
        snprintf(out, outlen, "%s", p->row_diff);
        return;
    }
    if (p->nrows < p->want->nrows) {
        snprintf(out, outlen, "the plan has %zu rows to send, the file %" PRIu64, p->want->nrows,
                 p->nrows);
        return;
    }
    if (valid != p->want->rows_valid || invalid != p->want->rows_invalid) {
        snprintf(out, outlen,
                 "rows to send / not sent: the plan has %" PRIu64 " / %" PRIu64
                 ", this run %" PRIu64 " / %" PRIu64,
                 p->want->rows_valid, p->want->rows_invalid, valid, invalid);
        return;
    }
    for (i = 0; i < PB_F__COUNT; i++) {
        if (p->findings[i] != p->want->findings[i]) {
            snprintf(out, outlen,
                     "the findings: the plan has %" PRIu64 " %s, this run %" PRIu64
                     " (the state store changed since the plan was made?)",
                     p->want->findings[i], pb_finding_name((pb_finding_code)i), p->findings[i]);
            return;
        }
    }
    n = pb__totals(g, tot, 64);
    if (n != p->want->ntotals)
        snprintf(out, outlen, "the totals per currency differ from the plan's");
}

void pb_cli_plan_free(pb_cli_plan *p)
{
    pb_plan_hash_free(p->hash);
    p->hash = NULL;
    pb_buf_free(&p->text);
}

int pb_cli_plan_load(const char *path, pb_plan_doc **doc, char **text, size_t *len)
{
    char *buf = NULL, check[PB_PLAN_DIGEST_LEN + 1];
    size_t n = 0;
    int rc;

    *doc = NULL;
    if ((rc = pb_cli_read_small(path, PB_PLAN_MAX_BYTES, &buf, &n)) < 0) {
        pb_cli_error("plan %s: cannot read it: %s", path, strerror(-rc));
        return rc == -EFBIG ? PB_EXIT_DATAERR : PB_EXIT_NOINPUT;
    }
    if ((rc = pb_plan_parse(buf, n, doc)) < 0) {
        pb_cli_error("plan %s: %s", path, pb_error_last());
        pb_free(buf);
        return rc == PB_ENOMEM ? PB_EXIT_SOFTWARE : PB_EXIT_DATAERR;
    }
    if ((rc = pb_plan_doc_digest(*doc, check)) < 0) {
        pb_cli_error("plan %s: %s", path, pb_error_last());
        goto fail;
    }
    if (strcmp(check, (*doc)->digest) != 0) {
        pb_cli_error("plan %s: its contents do not give its digest (%s, the contents give %s): "
                     "the file was edited after it was made; make a new plan",
                     path, (*doc)->digest, check);
        goto fail;
    }
    if (text) {
        *text = buf;
        *len = n;
    } else {
        pb_free(buf);
    }
    return 0;
fail:
    pb_plan_doc_free(*doc);
    *doc = NULL;
    pb_free(buf);
    return PB_EXIT_DATAERR;
}

#define PB__MAX_KEYS 64

/* The approval keys of the config ("a.pem, b.pem"); n of them. 0 or an exit code. */
static int pb__keys(const char *list, unsigned char keys[][PB_ED25519_KEY], size_t *n)
{
    const char *p = list;
    *n = 0;
    while (p && *p) {
        char path[4096], *buf = NULL;
        size_t len = strcspn(p, ","), blen;
        int rc;
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        snprintf(path, sizeof(path), "%.*s", (int)len, p);
        while (strlen(path) && (path[strlen(path) - 1] == ' ' || path[strlen(path) - 1] == '\t'))
            path[strlen(path) - 1] = '\0';
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
        if (!path[0])
            continue;
        if (*n == PB__MAX_KEYS) {
            pb_cli_error("approval_keys: at most %d keys", PB__MAX_KEYS);
            return PB_EXIT_CONFIG;
        }
        if ((rc = pb_cli_read_small(path, PB_KEYFILE_MAX, &buf, &blen)) < 0) {
            pb_cli_error("approval_keys: %s: cannot read it: %s", path, strerror(-rc));
            return PB_EXIT_CONFIG;
        }
        rc = pb_keyfile_parse(buf, blen, PB_KEY_PUBLIC, keys[*n]);
        pb_free(buf);
        if (rc < 0) {
            pb_cli_error("approval_keys: %s: %s", path, pb_error_last());
            return PB_EXIT_CONFIG;
        }
        (*n)++;
    }
    return 0;
}

/* 1 when an approval given at `at` (UTC, "YYYY-MM-DDTHH:MM:SSZ", covered by its signature)
 * is at most max_age_s old now, and not from the future (a clock ahead by more than 5 minutes
 * could otherwise make it last longer). */
static int pb__approval_fresh(const char *at, unsigned max_age_s)
{
    struct tm tm;
    time_t t, now = time(NULL);
    memset(&tm, 0, sizeof(tm));
    if (!at || sscanf(at, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    t = timegm(&tm);
    return t != (time_t)-1 && t <= now + 300 && now - t <= (time_t)max_age_s;
}

int pb_cli_plan_approvals(const pb_settings *s, const pb_plan_doc *doc, char *approvers, size_t len)
{
    unsigned char keys[PB__MAX_KEYS][PB_ED25519_KEY];
    unsigned char counted[PB__MAX_KEYS];
    size_t nkeys = 0, i, k, good = 0, at = 0;
    int rc;

    approvers[0] = '\0';
    if ((rc = pb__keys(s->approval_keys, keys, &nkeys)) != 0)
        return rc;
    if (nkeys == 0) {
        if (s->require_plan) {
            pb_cli_error("require_plan is set but approval_keys names no key: configure the "
                         "approvers' public keys (PEM files), so that a plan's approvals can be "
                         "checked");
            return PB_EXIT_CONFIG;
        }
        if (doc->napprovals)
            pb_cli_error("warning: the plan's %zu approval%s not checked: approval_keys is not "
                         "configured",
                         doc->napprovals, doc->napprovals == 1 ? " is" : "s are");
        return 0;
    }
    memset(counted, 0, sizeof(counted));
    for (i = 0; i < doc->napprovals; i++) {
        const pb_plan_approval *a = &doc->approvals[i];
        char fp[PB_APPROVAL_FP];
        pb_buf msg;
        int ok = 0;
        pb_approval_fingerprint(a->pub, fp);
        for (k = 0; k < nkeys && memcmp(keys[k], a->pub, PB_ED25519_KEY); k++)
            ;
        if (k == nkeys) {
            pb_cli_error("note: the approval by %s (%s) is by a key not in approval_keys: not "
                         "counted",
                         a->name, fp);
            continue;
        }
        pb_buf_init(&msg, 4096);
        rc = pb_approval_message(doc->digest, a->name, a->at, &msg);
        if (rc == 0)
            rc = pb_approval_verify(a->pub, msg.ptr, msg.len, a->sig, &ok);
        pb_buf_free(&msg);
        if (rc < 0 || !ok) {
            pb_cli_error("the approval by %s (%s, %s) does not verify: it was not made for this "
                         "plan by that key (forged, or copied from another plan); nothing is sent",
                         a->name, fp, a->at);
            return PB_EXIT_DATAERR;
        }
        if (s->approval_max_age_s && !pb__approval_fresh(a->at, s->approval_max_age_s)) {
            pb_cli_error("the approval by %s (%s) was given at %s, more than %u s ago "
                         "(approval_max_age): expired, not counted; have the plan approved again",
                         a->name, fp, a->at, s->approval_max_age_s);
            continue;
        }
        if (counted[k]) {
            pb_cli_error("note: %s (%s) approved more than once: counted once", a->name, fp);
            continue;
        }
        counted[k] = 1;
        good++;
        if (at < len)
            at += (size_t)snprintf(approvers + at, len - at, "%s%s (%s)", at ? ", " : "", a->name,
                                   fp);
    }
    if (good < s->approvals_required) {
        pb_cli_error("the plan has %zu valid approval%s from distinct approval keys; %u %s "
                     "required (approvals_required): have it approved (paybatch approve --key "
                     "KEY.pem PLAN.json) by %s",
                     good, good == 1 ? "" : "s", s->approvals_required,
                     s->approvals_required == 1 ? "is" : "are",
                     good ? "more approvers" : "an approver");
        return PB_EXIT_CONFIG;
    }
    return 0;
}

void pb_cli_plan_print(FILE *out, const pb_plan_doc *d)
{
    char rate[24], amt[32];
    size_t i;
    pb_plan_rate_format(d->head.rate_milli, rate);
    fprintf(out, "plan %s\n", d->digest);
    fprintf(out, "  file      %s (sha256 %.16s...)\n", d->file_name, d->head.file_sha256);
    fprintf(out, "  batch     %s\n", d->head.batch_id);
    fprintf(out, "  gate      %s, project %" PRId64 ", rate %s/s\n", d->head.gate_url,
            d->head.project_id, rate);
    fprintf(out, "  rows      %" PRIu64 " to send, %" PRIu64 " not sent\n", d->rows_valid,
            d->rows_invalid);
    fprintf(out, "  methods  ");
    for (i = 0; i < d->nrows; i++) {
        size_t j;
        for (j = 0; j < i && strcmp(d->rows[j].method, d->rows[i].method); j++)
            ;
        if (j == i)
            fprintf(out, " %s", d->rows[i].method);
    }
    fprintf(out, "\n");
    for (i = 0; i < d->ntotals; i++) {
        const pb_currency *c = pb_currency_find(d->totals[i].currency, 3);
        if (pb_money_format(d->totals[i].amount, c ? c->exponent : 2, amt, sizeof(amt)) < 0)
            amt[0] = '\0';
        fprintf(out, "  total     %s %s in %" PRIu64 " row%s\n", d->totals[i].currency, amt,
                d->totals[i].rows, d->totals[i].rows == 1 ? "" : "s");
    }
    fprintf(out, "  limits in force:\n");
    pb_cli_guard_print_limits(out, d->head.limits);
    for (i = 0; i < PB_F__COUNT; i++)
        if (d->findings[i])
            fprintf(out, "  finding   %s: %" PRIu64 "\n", pb_finding_name((pb_finding_code)i),
                    d->findings[i]);
    for (i = 0; i < d->napprovals; i++) {
        char fp[PB_APPROVAL_FP];
        pb_approval_fingerprint(d->approvals[i].pub, fp);
        fprintf(out, "  approved  by %s (%s) at %s\n", d->approvals[i].name, fp,
                d->approvals[i].at);
    }
}
