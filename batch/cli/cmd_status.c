/*
 * cmd_status.c - `paybatch status`: what the state store knows, per batch.
 */
#include "batch/cli/cli.h"
#include "batch/cli/options.h"
#include "core/errors.h"
#include "formats/json_write.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

static void pb__status_usage(FILE *out)
{
    fputs("Usage: paybatch status [options]\n"
          "\n"
          "List the batches of the state store with their rows per state and sums per\n"
          "currency (--batch-id for one; --log-format json for one JSON object per batch).\n"
          "--migrate creates the schema of a PostgreSQL store, or upgrades an older one (stop\n"
          "every paybatch that uses it first), and says which; SQLite upgrades on its own.\n"
          "\n"
          "Options:\n",
          out);
    pb_settings_print_options(out, PB_CMD_STATUS);
}

typedef struct {
    pb_store *st;
    const pb_settings *s;
    int found;
    int rc;
} pb__status;

static int pb__one(const pb_batch_info *b, void *payload)
{
    pb__status *p = payload;
    pb_batch_counts c;
    size_t k;

    if (p->s->batch_id && strcmp(p->s->batch_id, b->name) != 0)
        return 0;
    p->found = 1;
    memset(&c, 0, sizeof(c));
    if ((p->rc = pb_store_counts(p->st, b->id, &c)) < 0)
        return 1;
    if (p->s->log_json) {
        pb_buf j;
        pb_buf_init(&j, 1u << 20);
        (void)pb_buf_puts(&j, "{\"batch\":");
        (void)pb_json_put_str(&j, b->name, strlen(b->name));
        (void)pb_buf_puts(&j, ",\"file\":");
        (void)pb_json_put_str(&j, b->file_name, strlen(b->file_name));
        (void)pb_buf_printf(&j, ",\"sha256\":\"%s\",\"rows\":%" PRIu64 ",\"states\":{",
                            b->file_sha256, c.total);
        for (k = 0; k < PB_ROW_STATE_COUNT; k++)
            (void)pb_buf_printf(&j, "%s\"%s\":%" PRIu64, k ? "," : "",
                                pb_row_state_name((pb_row_state)k), c.rows[k]);
        (void)pb_buf_putc(&j, '}');
        (void)pb_cli_plan_members(&j, b->plan);
        (void)pb_buf_puts(&j, "}\n");
        fputs(pb_buf_cstr(&j), stdout);
        pb_buf_free(&j);
    } else {
        printf("batch %s  file %s  sha256 %.16s...\n", b->name, b->file_name, b->file_sha256);
        pb_cli_plan_line(stdout, b->plan);
        pb_cli_print_counts(stdout, &c);
        putchar('\n');
    }
    pb_batch_counts_clear(&c);
    return 0;
}

int pb_cmd_status(int argc, char **argv)
{
    pb_settings s;
    pb_store *st = NULL;
    pb__status p;
    size_t npos = 0;
    int rc, exit_code = PB_EXIT_OK;

    if ((rc = pb_settings_parse(&s, PB_CMD_STATUS, argc, argv, pb__status_usage, NULL, 0, &npos)) !=
        0) {
        pb_settings_free(&s);
        return pb_settings_exit(rc);
    }
    if (s.migrate) {
        int from = 0, to = 0;
        if ((rc = pb_store_migrate(s.state, &from, &to)) < 0) {
            pb_cli_error("state store %s: %s", pb_cli_shown(s.state), pb_error_last());
            exit_code = pb_cli_store_exit(rc, 1);
        } else if (to < 0) {
            printf("%s: the SQLite store upgrades its schema when it is opened: nothing to do\n",
                   pb_cli_shown(s.state));
        } else if (from == 0) {
            printf("%s: schema version %d created\n", pb_cli_shown(s.state), to);
        } else if (from == to) {
            printf("%s: schema version %d, current\n", pb_cli_shown(s.state), to);
        } else {
            printf("%s: schema upgraded from version %d to %d\n", pb_cli_shown(s.state), from, to);
        }
        goto out;
    }
    if (strncmp(s.state, "mem:", 4) != 0 && !pb_store_uri_is_pg(s.state) &&
        access(s.state, F_OK) != 0) {
        /* asking must not create a store */
        pb_cli_error("no state store at %s: give --state the file that send used", s.state);
        exit_code = PB_EXIT_NOINPUT;
        goto out;
    }
    if ((rc = pb_store_open(&st, s.state)) < 0) {
        pb_cli_error("state store %s: %s", pb_cli_shown(s.state), pb_error_last());
        exit_code = pb_cli_store_exit(rc, 1);
        goto out;
    }
    memset(&p, 0, sizeof(p));
    p.st = st;
    p.s = &s;
    if ((rc = pb_store_batches_each(st, pb__one, &p)) < 0 || p.rc < 0) {
        pb_cli_error("state store %s: %s", pb_cli_shown(s.state), pb_error_last());
        exit_code = PB_EXIT_IOERR;
        goto out;
    }
    if (s.batch_id && !p.found) {
        pb_cli_error("no batch %s in %s", s.batch_id, pb_cli_shown(s.state));
        exit_code = PB_EXIT_DATAERR;
    } else if (!p.found && !s.log_json) {
        printf("no batches in %s\n", pb_cli_shown(s.state));
    }
out:
    pb_store_free(st);
    pb_settings_free(&s);
    return exit_code;
}
