#include "batch/send/load.h"
#include "batch/send/load_int.h"

#include "core/alloc.h"
#include "core/guard.h"
#include "core/errors.h"
#include "core/str.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The file is read in pieces of PB_LOAD_PIECE bytes (the last may be shorter); the check
 * keeps a digest of each, and the streaming loader (pb_loader_next) compares every piece with
 * it before a byte of it is parsed, so no row of a file changed since its check is stored. */
int pb_load__read_piece(int fd, const char *path, char *buf, size_t *got)
{
    *got = 0;
    while (*got < PB_LOAD_PIECE) {
        ssize_t n = read(fd, buf + *got, PB_LOAD_PIECE - *got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return pb_error_set("cannot read %s: %s", path, strerror(errno)), PB_EIO;
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return 0;
}

void pb_load__piece_digest(const char *buf, size_t n, unsigned char out[PB_LOAD_DIGEST])
{
    unsigned char d[32];
    unsigned int dl = 0;
    if (EVP_Digest(buf, n, d, &dl, EVP_sha256(), NULL) != 1 || dl != 32)
        memset(d, 0, sizeof(d)); /* never matches a real piece's: the loader then stops */
    memcpy(out, d, PB_LOAD_DIGEST);
}

/*
 * Read path in pieces, handing each to fn, then fn(NULL, 0) at the end; hex gets the SHA-256
 * of what was read, res (when not NULL) each piece's digest. *fd_out (when not NULL) is the
 * open file while fn runs, else -1.
 */
static int pb__read_file(const char *path, int (*fn)(const char *, size_t, void *), void *arg,
                         char hex[65], int *fd_out, pb_load_result *res)
{
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    unsigned char digest[32];
    char *chunk = pb_malloc(PB_LOAD_PIECE);
    int fd = -1, rc = PB_OK;
    size_t cap = 0;

    if (!sha || !chunk || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) {
        rc = PB_ENOMEM;
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = pb_error_set("cannot read %s: %s", path, strerror(errno));
        rc = PB_EIO;
        goto out;
    }
    if (fd_out)
        *fd_out = fd; /* read again at offsets while fn runs (pb__read_at) */
    for (;;) {
        size_t n;
        if ((rc = pb_load__read_piece(fd, path, chunk, &n)) < 0)
            goto out;
        if (n && res) {
            if (res->npieces == cap) {
                size_t c2 = cap ? 2 * cap : 64;
                void *more = pb_realloc(res->pieces, c2 * PB_LOAD_DIGEST);
                if (!more) {
                    rc = PB_ENOMEM;
                    goto out;
                }
                res->pieces = more;
                cap = c2;
            }
            pb_load__piece_digest(chunk, n, res->pieces[res->npieces++]);
        }
        if (n == 0) {
            if (fn && (rc = fn(NULL, 0, arg)) != 0) /* the end, while fd is still open */
                goto out;
            break;
        }
        if (EVP_DigestUpdate(sha, chunk, n) != 1) {
            rc = pb_error_set("SHA-256 failed");
            goto out;
        }
        if (fn && (rc = fn(chunk, n, arg)) != 0)
            goto out;
    }
    if (EVP_DigestFinal_ex(sha, digest, NULL) != 1) {
        rc = pb_error_set("SHA-256 failed");
        goto out;
    }
    pb_hex_lower(digest, 32, hex);
out:
    if (fd_out)
        *fd_out = -1;
    if (fd >= 0)
        close(fd);
    EVP_MD_CTX_free(sha);
    pb_free(chunk);
    return rc;
}

int pb_load_hash(const char *path, char hex[65])
{
    return pb__read_file(path, NULL, NULL, hex, NULL, NULL);
}

/* The validator confirms a duplicate against the earlier row's text, read again from the file. */
static int pb__read_at(uint64_t off, char *buf, size_t len, size_t *got, void *ctx)
{
    pb_load__scan *s = ctx;
    *got = 0;
    while (*got < len) {
        ssize_t n = pread(s->fd, buf + *got, len - *got, (off_t)(off + *got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            pb_error_set("cannot read %s again: %s", s->o->path, strerror(errno));
            return PB_EIO;
        }
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return PB_OK;
}

static void pb__on_finding(const pb_finding *f, void *ctx)
{
    pb_load__scan *s = ctx;
    if (!s->storing && s->o->on_finding)
        s->o->on_finding(f, s->o->payload);
}

/* The payment-id questions and the insert of one chunk share one store transaction: asked
 * one by one, each question was a transaction of its own (WAL locks taken and released per
 * row: 40% of a 100,000-row load). A chunk keeps the write lock for milliseconds only. */
static int pb__group(pb_load__scan *s)
{
    int rc;
    if (s->grouped)
        return 0;
    if ((rc = pb_store_group_begin(s->o->store)) < 0)
        return rc;
    s->grouped = 1;
    s->in_group = 0;
    return 0;
}

static int pb__ungroup(pb_load__scan *s)
{
    if (!s->grouped)
        return 0;
    s->grouped = 0;
    return pb_store_group_end(s->o->store);
}

static int pb__flush(pb_load__scan *s)
{
    int rc = 0;
    if (s->nrows) {
        rc = pb_store_rows_add(s->o->store, s->o->this_batch, s->rows, s->nrows);
        pb_store_rows_clear(s->rows, s->nrows);
        s->nrows = 0;
    }
    /* the chunk is durable before the next one is read: stored rows stay a prefix */
    if (rc == 0)
        rc = pb__ungroup(s);
    return rc;
}

/* A valid row whose payment id another batch of the store holds: invalid, payment-id-used. */
static int pb__id_used(pb_load__scan *s, const pb_row_report *r)
{
    const pb_str id = r->row->cell[PB_COL_PAYMENT_ID];
    char *owner = NULL;
    int rc = pb_store_payment_id_owner(s->o->store, id.ptr, id.len, s->o->this_batch, &owner);
    if (rc == PB_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (!s->storing && s->o->on_finding) {
        pb_finding f;
        memset(&f, 0, sizeof(f));
        f.code = PB_F_PAYMENT_ID_USED;
        f.row = r->rec->row;
        f.column = r->row->name[PB_COL_PAYMENT_ID];
        snprintf(f.message, sizeof(f.message),
                 "payment id already used by batch %s in this state store; Gate would refuse "
                 "it (3041): give the row a new payment id",
                 owner);
        s->o->on_finding(&f, s->o->payload);
    }
    pb_free(owner);
    return 1;
}

/* The paid-recently key of a row, or "" when the row lacks a part of it. */
static void pb__payee_key(const pb_row_report *r, char key[65])
{
    pb_str acct;
    key[0] = '\0';
    if (!r->row || !r->res || !r->res->method || !r->res->currency || !r->res->amount_ok)
        return;
    acct = r->row->cell[PB_COL_ACCOUNT];
    if (!acct.ptr || !acct.len)
        return;
    if (pb_guard_payee_key(r->res->method->name, acct.ptr, acct.len, r->res->amount_minor,
                           r->res->currency->code, key) < 0)
        key[0] = '\0';
}

typedef struct {
    pb_load__scan *s;
    const pb_row_report *r;
    unsigned hits;
} pb__recent;

#define PB__RECENT_SHOWN 3 /* findings per row; the rest counted in the last one */

static int pb__on_paid(const pb_store_paid_hit *h, void *payload)
{
    pb__recent *c = payload;
    pb_load__scan *s = c->s;
    c->hits++;
    if (c->hits <= PB__RECENT_SHOWN && !s->storing && s->o->on_finding) {
        pb_finding f;
        char when[32];
        struct tm tm;
        time_t t = (time_t)(h->at_ms / 1000);
        if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
            snprintf(when, sizeof(when), "%lld ms", (long long)h->at_ms);
        pb_finding_make(&f, PB_F_PAID_RECENTLY, c->r->rec->row, c->r->row->name[PB_COL_ACCOUNT], 0,
                        "same method, account and amount %s in batch %s, row %u (payment id "
                        "%s) at %s; if this is an earlier file sent again, do not send it%s",
                        h->state == PB_ROW_SUCCESS ? "paid" : "accepted by Gate", h->batch_name,
                        h->row_no, h->payment_id, when,
                        s->o->strict_recent ? " (--strict-recent: the row is not sent)" : "");
        f.escalated = s->o->strict_recent;
        s->o->on_finding(&f, s->o->payload);
    }
    return 0;
}

/* 1 when the row was paid recently in another batch, 0 when not, or an error. */
static int pb__paid_recently(pb_load__scan *s, const pb_row_report *r)
{
    pb__recent c = {s, r, 0};
    int rc;
    if (!s->payee[0])
        return 0;
    rc = pb_store_paid_recently(s->o->store, s->payee, s->o->this_batch, s->o->recent_since_ms,
                                pb__on_paid, &c);
    if (rc < 0)
        return rc;
    return c.hits > 0;
}

static int pb__fill_row(pb_store_row *sr, const pb_row_report *r, const char payee[65], int valid,
                        pb_finding_code why)
{
    char findings[1024];
    size_t i, k = 0;
    int rc;

    memset(sr, 0, sizeof(*sr));
    sr->row_no = (uint32_t)r->rec->row;
    sr->state = valid ? PB_ROW_QUEUED : PB_ROW_INVALID;
    if (r->row) {
        const pb_str *c = r->row->cell;
        pb_row_field_set(sr->payment_id, PB_STORE_PAYMENT_ID_MAX, c[PB_COL_PAYMENT_ID].ptr,
                         c[PB_COL_PAYMENT_ID].len);
        pb_mask_account(c[PB_COL_ACCOUNT].ptr ? c[PB_COL_ACCOUNT].ptr : "", c[PB_COL_ACCOUNT].len,
                        sr->account_masked, sizeof(sr->account_masked));
    }
    memcpy(sr->payee_key, payee, 65);
    if (r->res) {
        if (r->res->method)
            pb_row_field_set(sr->method, PB_STORE_METHOD_MAX, r->res->method->name,
                             strlen(r->res->method->name));
        if (r->res->currency)
            pb_row_field_set(sr->currency, PB_STORE_CURRENCY_MAX, r->res->currency->code,
                             strlen(r->res->currency->code));
        if (r->res->amount_ok)
            sr->amount = r->res->amount_minor;
    }
    if ((rc = pb_store_cells_pack(r->rec->fields, r->rec->nfields, &sr->cells, &sr->cells_len)) < 0)
        return rc;
    findings[0] = '\0';
    for (i = 0; i < r->nfindings && k + 64 < sizeof(findings); i++) {
        if (pb_finding_severity(r->findings[i].code) != PB_SEV_ERROR)
            continue;
        k += (size_t)snprintf(findings + k, sizeof(findings) - k, "%s%s", k ? "," : "",
                              pb_finding_name(r->findings[i].code));
    }
    if (!valid && r->valid && why != PB_F__COUNT)
        k += (size_t)snprintf(findings + k, sizeof(findings) - k, "%s%s", k ? "," : "",
                              pb_finding_name(why));
    if (k && !(sr->findings = pb_strdup(findings)))
        return PB_ENOMEM;
    return 0;
}

static int pb__on_row(const pb_row_report *r, void *ctx)
{
    pb_load__scan *s = ctx;
    pb_finding_code why = PB_F__COUNT;
    int valid = r->valid, rc;

    /* once per row: for the paid-recently question and for the stored row */
    s->payee[0] = '\0';
    if (s->storing || s->o->recent_on)
        pb__payee_key(r, s->payee);

    /* rows this batch already stored hold their ids (a unique index keeps other batches off
     * them): only rows not stored yet are asked about, so a resume costs no query per row */
    if (valid && r->row && !s->deferred && s->checked++ >= s->o->stored_rows) {
        if ((rc = pb__group(s)) < 0)
            goto fail;
        if ((rc = pb__id_used(s, r)) < 0)
            goto fail;
        /* checking only (nothing to insert): end the read group every chunk all the same */
        if (!s->storing && ++s->in_group == PB_LOAD_CHUNK && (rc = pb__ungroup(s)) < 0)
            goto fail;
        if (rc == 1) {
            valid = 0;
            why = PB_F_PAYMENT_ID_USED;
            s->res->id_used++;
        }
        if (valid && s->o->recent_on) {
            if ((rc = pb__paid_recently(s, r)) < 0)
                goto fail;
            if (rc == 1) {
                s->res->recent++;
                if (s->o->strict_recent) {
                    valid = 0;
                    why = PB_F_PAID_RECENTLY;
                    s->res->recent_refused++;
                }
            }
        }
    }
    if (s->o->on_row && !s->storing && (rc = s->o->on_row(r, valid, s->v, s->o->payload)) != 0)
        return rc;
    if (!s->storing)
        return 0;
    if (s->seen++ < s->skip)
        return 0;
    if (s->nrows == s->rows_cap) { /* deferred only: a piece may hold more than a chunk */
        size_t cap = s->rows_cap * 2;
        pb_store_row *more = pb_realloc(s->rows, cap * sizeof(*more));
        if (!more) {
            rc = PB_ENOMEM;
            goto fail;
        }
        s->rows = more;
        s->rows_cap = cap;
    }
    if ((rc = pb__fill_row(&s->rows[s->nrows], r, s->payee, valid, why)) < 0) {
        pb_store_row_clear(&s->rows[s->nrows]);
        goto fail;
    }
    s->nrows++;
    if (!s->deferred && s->nrows == PB_LOAD_CHUNK && (rc = pb__flush(s)) < 0)
        goto fail;
    return 0;
fail:
    s->err = rc;
    return rc;
}

static int pb__feed(const char *data, size_t len, void *arg)
{
    pb_load__scan *s = arg;
    int rc;
    if (!data) /* the end of the file */
        return pb_validator_file_failed(s->v) ? 0 : pb_validator_finish(s->v);
    rc = pb_validator_feed(s->v, data, len);
    if (rc == 0 && pb_validator_file_failed(s->v))
        return 1; /* a file that failed is not read further */
    return rc;
}

/* s for a pass over o->path (the rows array when storing, the validator); pb_load__scan_free. */
int pb_load__scan_init(pb_load__scan *s, const pb_load_opts *o, int storing, uint64_t skip,
                       pb_load_result *res)
{
    pb_validator_opts vo;

    memset(s, 0, sizeof(*s));
    memset(&vo, 0, sizeof(vo));
    s->o = o;
    s->res = res;
    s->storing = storing;
    s->skip = skip;
    s->fd = -1;
    vo.rules = o->rules;
    vo.delimiter = o->delimiter;
    vo.on_row = pb__on_row;
    vo.on_file_finding = pb__on_finding;
    vo.on_finding = pb__on_finding;
    vo.read_at = pb__read_at;
    vo.ctx = s;
    {
        /* the duplicate sets sized once from the file's size, as validate does: smaller than
         * sets grown by doubling, which the streaming load keeps while it sends */
        struct stat sb;
        if (stat(o->path, &sb) == 0 && S_ISREG(sb.st_mode))
            vo.size_hint = (uint64_t)sb.st_size;
    }
    if (RAND_bytes((unsigned char *)vo.hash_key, sizeof(vo.hash_key)) != 1)
        return pb_error_set("no random bytes for the duplicate sets");
    if (storing) {
        if (!(s->rows = pb_calloc(PB_LOAD_CHUNK, sizeof(*s->rows))))
            return PB_ENOMEM;
        s->rows_cap = PB_LOAD_CHUNK;
    }
    return pb_validator_new(&s->v, &vo);
}

void pb_load__scan_free(pb_load__scan *s)
{
    if (s->rows) {
        pb_store_rows_clear(s->rows, s->nrows);
        pb_free(s->rows);
        s->rows = NULL;
    }
    pb_validator_free(s->v);
    s->v = NULL;
}

/* The header cells the validator mapped, packed into res (pb_store_cells_pack). */
static int pb_load__scan_header(pb_load__scan *s, pb_load_result *res)
{
    const pb_header_map *m = pb_validator_header(s->v);
    size_t i, w;
    pb_str *h;
    int rc;
    if (!m)
        return 0;
    w = pb_header_map_width(m);
    if (!(h = pb_calloc(w ? w : 1, sizeof(*h))))
        return PB_ENOMEM;
    for (i = 0; i < w; i++)
        h[i] = pb_str_c(pb_header_map_name(m, i));
    rc = pb_store_cells_pack(h, w, &res->header, &res->header_len);
    pb_free(h);
    return rc;
}

static int pb_load__scan_run(const pb_load_opts *o, int storing, uint64_t skip, pb_load_result *res)
{
    pb_load__scan s;
    int rc;

    memset(res, 0, sizeof(*res));
    if ((rc = pb_load__scan_init(&s, o, storing, skip, res)) < 0)
        goto out;
    rc = pb__read_file(o->path, pb__feed, &s, res->sha256, &s.fd, storing ? NULL : res);
    if (rc == 1)
        rc = 0; /* a file that failed: not read to its end, not finished */
    if (s.err)
        rc = s.err;
    if (rc == 0 && storing)
        rc = pb__flush(&s);
    {
        int grc = pb__ungroup(&s); /* a failed run's chunk: its rows were not inserted */
        if (rc == 0)
            rc = grc;
    }
    if (rc != 0) {
        if (rc > 0 || rc == PB_ENOMEM)
            rc = rc > 0 ? PB_ERROR : rc;
        goto out;
    }
    res->stats = *pb_validator_get_stats(s.v);
    if ((rc = pb_load__scan_header(&s, res)) < 0)
        goto out;
    res->file_failed = pb_validator_file_failed(s.v);
    res->valid = res->stats.valid - res->id_used - res->recent_refused;
    res->invalid = res->stats.invalid + res->id_used + res->recent_refused;
out:
    pb_load__scan_free(&s);
    return rc;
}

void pb_load_result_clear(pb_load_result *res)
{
    pb_free(res->header);
    res->header = NULL;
    res->header_len = 0;
    pb_free(res->pieces);
    res->pieces = NULL;
    res->npieces = 0;
}

int pb_load_check(const pb_load_opts *o, pb_load_result *res)
{
    return pb_load__scan_run(o, 0, 0, res);
}

int pb_load_store(const pb_load_opts *o, uint64_t skip, pb_load_result *res)
{
    return pb_load__scan_run(o, 1, skip, res);
}
