/*
 * cmd_approve.c - `paybatch approve --key APPROVER.pem PLAN.json`: an approver signs a plan's
 * digest with an Ed25519 private key, and the approval (name, time, public key, signature) is
 * added to the plan file (issue #14). The digest is recomputed from the plan's contents first,
 * so what the approver is shown is what is signed.
 */
#include "batch/cli/cli.h"
#include "batch/cli/options.h"
#include "batch/cli/plan_cli.h"
#include "core/alloc.h"
#include "core/approval.h"
#include "core/errors.h"
#include "formats/keyfile.h"
#include "formats/plan.h"

#include <string.h>
#include <sys/stat.h>

static void pb__approve_usage(FILE *out)
{
    fputs("Usage: paybatch approve --key APPROVER.pem [--name NAME] PLAN.json\n"
          "\n"
          "Show a plan made by paybatch plan, sign its digest with the approver's Ed25519\n"
          "private key, and add the approval (who, when, public key, signature) to the plan\n"
          "file. send --plan counts the approvals whose public keys are in approval_keys.\n"
          "Make a key with: openssl genpkey -algorithm ed25519 -out APPROVER.pem\n"
          "and give its public key (openssl pkey -in APPROVER.pem -pubout) to the sending host.\n"
          "\n"
          "Options:\n",
          out);
    pb_settings_print_options(out, PB_CMD_APPROVE);
    fputs("\nExit status: 0 approved; 65 the plan is malformed, edited, or already approved\n"
          "with this key; 66 the plan cannot be read; 74 it cannot be written; 78 the key\n"
          "cannot be used; 64 usage.\n",
          out);
}

int pb_cmd_approve(int argc, char **argv)
{
    pb_settings s;
    char *pos[1], *keytext = NULL, *plantext = NULL, fp[PB_APPROVAL_FP];
    size_t npos = 0, keylen = 0, planlen = 0, i;
    unsigned char priv[PB_ED25519_KEY];
    pb_plan_doc *doc = NULL;
    pb_plan_approval a;
    pb_outfile of;
    pb_buf msg, text;
    struct stat st;
    int rc, exit_code = PB_EXIT_SOFTWARE;

    memset(&of, 0, sizeof(of));
    memset(&a, 0, sizeof(a));
    pb_buf_init(&msg, 4096);
    pb_buf_init(&text, PB_PLAN_MAX_BYTES + 4096);
    if ((rc = pb_settings_parse(&s, PB_CMD_APPROVE, argc, argv, pb__approve_usage, pos, 1,
                                &npos)) != 0) {
        pb_settings_free(&s);
        return pb_settings_exit(rc);
    }
    pb_cli_log_setup(&s);
    if (npos != 1 || !s.key) {
        pb_cli_error("approve needs --key APPROVER.pem and one PLAN.json; see paybatch approve "
                     "--help");
        exit_code = PB_EXIT_USAGE;
        goto out;
    }
    if ((rc = pb_cli_read_small(s.key, PB_KEYFILE_MAX, &keytext, &keylen)) < 0) {
        pb_cli_error("--key %s: cannot read it: %s", s.key, strerror(-rc));
        exit_code = PB_EXIT_CONFIG;
        goto out;
    }
    if (stat(s.key, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        pb_cli_error("warning: the key %s can be read by others (mode %03o); chmod 600 it", s.key,
                     (unsigned)(st.st_mode & 0777));
    if (pb_keyfile_parse(keytext, keylen, PB_KEY_PRIVATE, priv) < 0) {
        pb_cli_error("--key %s: %s", s.key, pb_error_last());
        exit_code = PB_EXIT_CONFIG;
        goto out;
    }
    if (pb_approval_public(priv, a.pub) < 0) {
        pb_cli_error("--key %s: %s", s.key, pb_error_last());
        exit_code = PB_EXIT_CONFIG;
        goto out;
    }
    pb_approval_fingerprint(a.pub, fp);
    if ((exit_code = pb_cli_plan_load(pos[0], &doc, &plantext, &planlen)) != 0)
        goto out;
    exit_code = PB_EXIT_SOFTWARE;
    for (i = 0; i < doc->napprovals; i++) {
        if (memcmp(doc->approvals[i].pub, a.pub, PB_ED25519_KEY) == 0) {
            pb_cli_error("%s is already approved with this key (%s, by %s at %s): one approval "
                         "per key counts",
                         pos[0], fp, doc->approvals[i].name, doc->approvals[i].at);
            exit_code = PB_EXIT_DATAERR;
            goto out;
        }
    }
    snprintf(a.name, sizeof(a.name), "%s", s.name && *s.name ? s.name : fp);
    pb_cli_now_iso(a.at);
    if (pb_approval_message(doc->digest, a.name, a.at, &msg) < 0) {
        pb_cli_error("--name: %s", pb_error_last());
        exit_code = PB_EXIT_USAGE;
        goto out;
    }
    if (pb_approval_sign(priv, msg.ptr, msg.len, a.sig) < 0 ||
        pb_plan_add_approval(plantext, planlen, &a, &text) < 0) {
        pb_cli_error("%s", pb_error_last());
        goto out;
    }
    if (pb_outfile_open(&of, pos[0]) < 0 || fwrite(text.ptr, 1, text.len, of.f) != text.len ||
        pb_outfile_commit(&of) < 0) {
        pb_cli_error("%s: cannot write the plan: %s", pos[0], pb_error_last());
        exit_code = PB_EXIT_IOERR;
        goto out;
    }
    pb_cli_plan_print(stdout, doc);
    printf("\napproved by %s (%s) at %s: %zu approval%s in %s now (send needs %u of keys it "
           "knows)\n",
           a.name, fp, a.at, doc->napprovals + 1, doc->napprovals ? "s" : "", pos[0],
           s.approvals_required);
    exit_code = PB_EXIT_OK;
out:
    for (volatile unsigned char *p = priv; p < priv + sizeof(priv); p++)
        *p = 0; /* the private key does not outlive its use */
    if (of.f)
        pb_outfile_abort(&of);
    pb_settings_secret_free(keytext, keylen);
    pb_free(plantext);
    pb_plan_doc_free(doc);
    pb_buf_free(&msg);
    pb_buf_free(&text);
    pb_settings_free(&s);
    return exit_code;
}
