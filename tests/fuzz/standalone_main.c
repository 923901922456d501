/*
 * standalone_main.c - replays a fuzz corpus without libFuzzer (any compiler).
 *
 * Usage: fuzz_<name> DIR_OR_FILE...  Every regular file is passed to LLVMFuzzerTestOneInput
 * once. Exits non-zero if an argument cannot be read or holds no input at all, so a
 * misplaced corpus cannot pass silently.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    long n;
    int rc = -1;

    if (!f)
        return -1;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    data = malloc((size_t)n + 1);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n)
        goto out;
    LLVMFuzzerTestOneInput(data, (size_t)n);
    rc = 0;
out:
    free(data);
    fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    int i, files = 0;

    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            if (!d)
                return 1;
            while ((e = readdir(d)) != NULL) {
                char path[4096];
                struct stat fst;
                snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
                if (stat(path, &fst) != 0 || !S_ISREG(fst.st_mode))
                    continue;
                if (run_file(path) != 0) {
                    fprintf(stderr, "cannot read %s\n", path);
                    closedir(d);
                    return 1;
                }
                files++;
            }
            closedir(d);
        } else {
            if (run_file(argv[i]) != 0)
                return 1;
            files++;
        }
    }
    if (files == 0) {
        fprintf(stderr, "no corpus input found\n");
        return 1;
    }
    printf("replayed %d inputs\n", files);
    return 0;
}
