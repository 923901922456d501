/* The store conformance suite against the mem backend ("mem:"). */
#include "store/conformance.c"

static const char *pb_conf_uri(void)
{
    return "mem:";
}

int main(void)
{
    const struct CMUnitTest tests[] = {PB_CONFORMANCE_TESTS};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
