#include "batch/cli/guardrails.h"

#include "batch/cli/cli.h"
#include "core/alloc.h"
#include "core/errors.h"
#include "formats/control.h"
#include "formats/json_write.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pb_cli_guard_limits(const pb_settings *s, pb_guard_limits *out)
{
    char *buf = NULL;
    size_t n = 0;
    ssize_t r;
    int fd, rc;

    *out = s->limits;
    if (!s->control)
        return 0;
    if (s->limits.expect_rows >= 0 || s->limits.n_expect_total) {
        pb_cli_error("--control %s and --expect-rows/--expect-total: give the control totals "
                     "one way, not both",
                     s->control);
        return PB_EXIT_USAGE;
    }
    fd = open(s->control, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pb_cli_error("--control %s: cannot read it: %s", s->control, strerror(errno));
        return PB_EXIT_NOINPUT;
    }
    if (!(buf = pb_malloc(PB_CONTROL_MAX_BYTES + 1))) {
        close(fd);
        pb_cli_error("out of memory");
        return PB_EXIT_SOFTWARE;
    }
    while (n <= PB_CONTROL_MAX_BYTES &&
           ((r = read(fd, buf + n, PB_CONTROL_MAX_BYTES + 1 - n)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            n += (size_t)r;
    if (r < 0) {
        pb_cli_error("--control %s: cannot read it: %s", s->control, strerror(errno));
        close(fd);
        pb_free(buf);
        return PB_EXIT_NOINPUT;
    }
    close(fd);
    rc = pb_control_parse(buf, n, out);
    pb_free(buf);
    if (rc < 0) {
        pb_cli_error("--control %s: %s", s->control, pb_error_last());
        return PB_EXIT_DATAERR;
    }
    return 0;
}

typedef struct {
    FILE *out;
    pb_buf *json;
    int rc;
} pb__gc;

static int pb__on_violation(const pb_guard_violation *v, void *ctx)
{
    pb__gc *c = ctx;
    char line[600];
    pb_guard_violation_text(v, line, sizeof(line));
    fprintf(c->out, "refused: %s\n", line);
    if (c->json && !c->rc) {
        if (c->json->len > 0)
            c->rc = pb_buf_putc(c->json, ',');
        if (!c->rc)
            c->rc = pb_json_put_str(c->json, line, strlen(line));
    }
    return 0;
}

int pb_cli_guard_check(const pb_guard *g, FILE *out, pb_buf *json, size_t *count)
{
    pb__gc c = {out, NULL, 0};
    pb_buf items;
    int rc;

    pb_buf_init(&items, 1u << 20);
    c.json = json ? &items : NULL;
    rc = pb_guard_check(g, pb__on_violation, &c, count);
    if (rc == 0)
        rc = c.rc;
    if (rc == 0 && json && *count) {
        rc = pb_buf_printf(json, ",\"guard_violations\":[%.*s]", (int)items.len,
                           items.ptr ? items.ptr : "");
    }
    pb_buf_free(&items);
    return rc;
}

void pb_cli_guard_print_limits(FILE *out, const pb_guard_limits *l)
{
    char m[48];
    size_t i;
    int any = 0;
    for (i = 0; i < l->n_max_total; i++, any = 1) {
        pb_guard_money_format(&l->max_total[i], m, sizeof(m));
        fprintf(out, "  --max-total %s\n", m);
    }
    if (l->max_rows >= 0)
        fprintf(out, "  --max-rows %" PRId64 "\n", l->max_rows), any = 1;
    for (i = 0; i < l->n_max_amount; i++, any = 1) {
        pb_guard_money_format(&l->max_amount[i], m, sizeof(m));
        fprintf(out, "  --max-amount %s\n", m);
    }
    if (l->expect_rows >= 0)
        fprintf(out, "  expected rows %" PRId64 "\n", l->expect_rows), any = 1;
    for (i = 0; i < l->n_expect_total; i++, any = 1) {
        pb_guard_money_format(&l->expect_total[i], m, sizeof(m));
        fprintf(out, "  expected total %s\n", m);
    }
    if (!any)
        fprintf(out, "  (none)\n");
}
