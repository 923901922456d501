/*
 * test_outfile.c - atomic output files: modes, links, special files, aliases, error text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch/util/outfile.h"
#include "core/errors.h"

static char dir[] = "/tmp/pb-test-outfile-XXXXXX";

static char *path(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void put(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void expect(const char *p, const char *text)
{
    char buf[256];
    size_t n;
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_string_equal(buf, text);
}

static int write_all(const char *p, const char *text)
{
    pb_outfile o;
    int rc = pb_outfile_open(&o, p);
    if (rc < 0)
        return rc;
    fputs(text, o.f);
    return pb_outfile_commit(&o);
}

/* no *.tmp.* left in the test directory */
static void no_temporaries(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        assert_null(strstr(e->d_name, ".tmp."));
    closedir(d);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    (void)state;
    while (d && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(path(e->d_name));
    if (d)
        closedir(d);
    return rmdir(dir);
}

static void test_new_file_mode_follows_umask(void **state)
{
    struct stat st;
    mode_t old = umask(022);
    (void)state;
    assert_int_equal(write_all(path("m1"), "a"), 0);
    umask(027);
    assert_int_equal(write_all(path("m2"), "b"), 0);
    umask(old);
    assert_int_equal(stat(path("m1"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(stat(path("m2"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    expect(path("m1"), "a");
    no_temporaries();
}

static void test_replace_keeps_mode_abort_keeps_old(void **state)
{
    struct stat st;
    pb_outfile o;
    (void)state;
    put(path("r"), "old");
    assert_int_equal(chmod(path("r"), 0604), 0);
    assert_int_equal(pb_outfile_open(&o, path("r")), 0);
    fputs("half", o.f);
    pb_outfile_abort(&o);
    pb_outfile_abort(&o); /* twice: harmless */
    expect(path("r"), "old");
    assert_int_equal(write_all(path("r"), "new"), 0);
    expect(path("r"), "new");
    assert_int_equal(stat(path("r"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0604);
    no_temporaries();
}

static void test_symlink_is_followed_not_replaced(void **state)
{
    struct stat st;
    (void)state;
    put(path("target"), "old");
    assert_int_equal(symlink("target", path("link")), 0);
    assert_int_equal(write_all(path("link"), "via link"), 0);
    assert_int_equal(lstat(path("link"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    expect(path("target"), "via link");
    /* a dangling link creates its target */
    assert_int_equal(symlink("created", path("dangling")), 0);
    assert_int_equal(write_all(path("dangling"), "made"), 0);
    assert_int_equal(lstat(path("dangling"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    expect(path("created"), "made");
    no_temporaries();
}

static void test_fifo_written_in_place(void **state)
{
    struct stat st;
    char buf[64];
    ssize_t n;
    int rfd;
    (void)state;
    assert_int_equal(mkfifo(path("fifo"), 0600), 0);
    rfd = open(path("fifo"), O_RDONLY | O_NONBLOCK);
    assert_true(rfd >= 0);
    assert_int_equal(write_all(path("fifo"), "through"), 0);
    n = read(rfd, buf, sizeof(buf));
    close(rfd);
    assert_int_equal(n, 7);
    assert_memory_equal(buf, "through", 7);
    assert_int_equal(lstat(path("fifo"), &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    no_temporaries();
}

static void test_device_written_in_place(void **state)
{
    struct stat st;
    pb_outfile o;
    (void)state;
    assert_int_equal(write_all("/dev/null", "gone"), 0);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    /* a disk-full write names the file and the reason */
    assert_int_equal(pb_outfile_open(&o, "/dev/full"), 0);
    assert_true(o.in_place);
    fputs("x", o.f);
    assert_int_equal(pb_outfile_commit(&o), PB_EIO);
    assert_non_null(strstr(pb_error_last(), "/dev/full"));
    assert_non_null(strstr(pb_error_last(), strerror(ENOSPC)));
}

static void test_errors_name_file_and_cause(void **state)
{
    pb_outfile o;
    (void)state;
    assert_int_equal(pb_outfile_open(&o, path("no/such/dir/x")), PB_EIO);
    assert_non_null(strstr(pb_error_last(), "no/such/dir/x"));
    assert_non_null(strstr(pb_error_last(), strerror(ENOENT)));
    assert_null(o.f);
    assert_int_equal(pb_outfile_open(&o, dir), PB_EIO); /* a directory */
    assert_non_null(strstr(pb_error_last(), strerror(EISDIR)));
}

static void test_same(void **state)
{
    int same;
    char spelled[600];
    (void)state;
    put(path("a"), "a");
    put(path("b"), "b");
    assert_int_equal(link(path("a"), path("hard")), 0);
    assert_int_equal(symlink("a", path("soft")), 0);
    snprintf(spelled, sizeof(spelled), "%s/./../%s/a", dir, strrchr(dir, '/') + 1);
    assert_int_equal(pb_outfile_same(path("a"), path("a"), &same), 0);
    assert_true(same);
    assert_int_equal(pb_outfile_same(path("a"), spelled, &same), 0);
    assert_true(same);
    assert_int_equal(pb_outfile_same(path("a"), path("hard"), &same), 0);
    assert_true(same);
    assert_int_equal(pb_outfile_same(path("soft"), path("a"), &same), 0);
    assert_true(same);
    assert_int_equal(pb_outfile_same(path("a"), path("b"), &same), 0);
    assert_false(same);
    /* two spellings of one new file; two new files */
    snprintf(spelled, sizeof(spelled), "%s/../%s/new", dir, strrchr(dir, '/') + 1);
    assert_int_equal(pb_outfile_same(path("new"), spelled, &same), 0);
    assert_true(same);
    assert_int_equal(pb_outfile_same(path("new"), path("new2"), &same), 0);
    assert_false(same);
    assert_int_equal(pb_outfile_same(path("new"), path("a"), &same), 0);
    assert_false(same);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_file_mode_follows_umask),
        cmocka_unit_test(test_replace_keeps_mode_abort_keeps_old),
        cmocka_unit_test(test_symlink_is_followed_not_replaced),
        cmocka_unit_test(test_fifo_written_in_place),
        cmocka_unit_test(test_device_written_in_place),
        cmocka_unit_test(test_errors_name_file_and_cause),
        cmocka_unit_test(test_same),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
