/*
 * main.c - the paybatch command line: dispatch to a command.
 */
#include "batch/cli/cli.h"

#include "core/methods.h"
#include "formats/global.h"

#include <string.h>

static void pb__usage(FILE *out)
{
    char names[128];

    pb_method_names(names, sizeof(names), ", ", 1);
    fprintf(out,
            "Usage: paybatch COMMAND [options]\n"
            "\n"
            "Mass payouts to e-wallets (%s) through ecommpay's Gate API.\n",
            names);
    fputs("\n"
          "Commands:\n"
          "  validate FILE.csv   check a payout file; send nothing\n"
          "  send FILE.csv       validate, sign and send every row, exactly once\n"
          "  plan FILE.csv       the exact plan of a send, written to --out; send nothing\n"
          "  approve PLAN.json   sign a plan's digest as an approver (--key KEY.pem)\n"
          "  listen              receive result callbacks into the state store\n"
          "  reconcile           settle rows in doubt, write the result CSV\n"
          "  status              what the state store knows, per batch\n"
          "  sandbox             local Gate simulator\n"
          "\n"
          "  paybatch COMMAND --help   options of a command\n"
          "  paybatch --version\n",
          out);
}

int main(int argc, char **argv)
{
    const char *cmd;

    pb_global_init();
    if (argc < 2) {
        pb__usage(stderr);
        return PB_EXIT_USAGE;
    }
    cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        pb__usage(stdout);
        return PB_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("paybatch %s\n", PB_VERSION);
        return PB_EXIT_OK;
    }
    if (strcmp(cmd, "validate") == 0)
        return pb_cmd_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "sandbox") == 0)
        return pb_cmd_sandbox(argc - 1, argv + 1);
    if (strcmp(cmd, "send") == 0)
        return pb_cmd_send(argc - 1, argv + 1);
    if (strcmp(cmd, "plan") == 0)
        return pb_cmd_plan(argc - 1, argv + 1);
    if (strcmp(cmd, "approve") == 0)
        return pb_cmd_approve(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0)
        return pb_cmd_status(argc - 1, argv + 1);
    if (strcmp(cmd, "reconcile") == 0)
        return pb_cmd_reconcile(argc - 1, argv + 1);
    if (strcmp(cmd, "listen") == 0)
        return pb_cmd_listen(argc - 1, argv + 1);
    pb_cli_error("unknown command '%s'; see paybatch --help", cmd);
    return PB_EXIT_USAGE;
}
