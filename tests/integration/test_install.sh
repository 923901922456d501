#!/usr/bin/env bash
# `cmake --install` into a temporary prefix: the program, the manual, libpaybatch.a with its
# headers and paybatch.pc. A small C program is then built against the installed library with
# `pkg-config --cflags --libs paybatch` only (no source tree on its include path) and run: it
# checks a published ecommpay signature vector, money parsing and formatting, a method's
# account rule and a result name (core and formats both in the archive).
set -euo pipefail
: "${PAYBATCH:?set by ctest}" "${PB_BUILD_DIR:?set by ctest}" "${PB_SOURCE_DIR:?set by ctest}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v pkg-config >/dev/null || fail "pkg-config is missing"
command -v cc >/dev/null || fail "no C compiler (cc)"

P="$T/prefix"
cmake --install "$PB_BUILD_DIR" --prefix "$P" >"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; fail "cmake --install"; }
[ -x "$P/bin/paybatch" ] || fail "no bin/paybatch"
"$P/bin/paybatch" --version | grep -q '^paybatch [0-9]' || fail "the installed paybatch does not run"
pc=$(find "$P" -name paybatch.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || fail "no paybatch.pc installed"
lib=$(find "$P" -name libpaybatch.a)
[ -n "$lib" ] || fail "no libpaybatch.a installed"
[ "$(dirname "$(dirname "$pc")")" = "$(dirname "$lib")" ] || fail "paybatch.pc is not in the library's pkgconfig folder"
[ -f "$P/include/paybatch/core/signature.h" ] || fail "headers not under include/paybatch/"
! find "$P/include" -name '*_int.h' | grep -q . || fail "a private header (*_int.h) was installed"
if [ -f "$PB_SOURCE_DIR/docs/paybatch.1" ]; then
    man=$(find "$P" -path '*/man1/paybatch.1')
    [ -n "$man" ] || fail "docs/paybatch.1 exists but was not installed"
    if command -v groff >/dev/null; then
        warn=$(groff -man -ww -z "$man" 2>&1) || fail "groff cannot format the manual"
        [ -z "$warn" ] || fail "the manual has groff warnings: $warn"
    fi
fi
echo "ok 1 installed: bin, lib, headers, pkg-config file, manual"

cat >"$T/try.c" <<'EOF'
/* built against the installed libpaybatch only */
#include "core/methods.h"
#include "core/money.h"
#include "core/signature.h"
#include "formats/global.h"
#include "formats/result_csv.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
    /* paymentpage-sdk-python tests/test_signature_handler.py (tests/data vector PY-SH-1) */
    static const char body[] = "{\"payment\":{\"id\":\"test-payment\",\"status\":\"success\"},"
                               "\"some_bool_param\":true,\"frame_mode\":\"popup\"}";
    static const char want[] = "TZS0J65ReNUMgKzeXUey9xOGGyC7r4OhsFXt/3H8XZM2Le8Wot2E1NIjeSPOyV1F3"
                               "sUU6F3kfo9om2dhbe3ieA==";
    char sig[PB_SIG_LEN + 1], text[32];
    const pb_currency *php;
    const pb_method *gcash;
    pb_money_why why;
    int64_t minor = 0;

    pb_global_init();
    if (pb_sig_sign_json(body, strlen(body), "qwerty", 6, sig) != 0 || strcmp(sig, want) != 0)
        return printf("signature: %s\n", sig), 1;
    php = pb_currency_find("PHP", 3);
    if (!php || pb_money_parse_major("1500.05", 7, php->exponent, &minor, &why) != 0 ||
        minor != 150005)
        return printf("money parse: %lld\n", (long long)minor), 1;
    if (pb_money_format(minor, php->exponent, text, sizeof(text)) != 0 ||
        strcmp(text, "1500.05") != 0)
        return printf("money format: %s\n", text), 1;
    gcash = pb_method_find("gcash", 5);
    if (!gcash || pb_method_account_check(gcash, "09171234567", 11) != PB_ACCOUNT_OK ||
        pb_method_account_check(gcash, "9171234567", 10) == PB_ACCOUNT_OK)
        return puts("account rule"), 1;
    if (strcmp(pb_result_name(PB_ROW_QUEUED, 0), "not_sent") != 0)
        return puts("result name"), 1;
    puts("libpaybatch ok");
    return 0;
}
EOF
export PKG_CONFIG_PATH="$(dirname "$pc")"
flags=$(pkg-config --cflags --libs paybatch) || fail "pkg-config --cflags --libs paybatch"
case "$flags" in *"$PB_SOURCE_DIR"*) fail "the flags point into the source tree: $flags" ;; esac
# a sanitizer build installs an instrumented archive: link the program the same way
extra=()
grep -q '^PB_SANITIZE:BOOL=ON' "$PB_BUILD_DIR/CMakeCache.txt" 2>/dev/null &&
    extra=(-fsanitize=address,undefined)
# shellcheck disable=SC2086 # the flags are words
cc -std=c11 -Wall -Wextra -Werror "${extra[@]}" -o "$T/try" "$T/try.c" $flags 2>"$T/cc.err" ||
    { cat "$T/cc.err" >&2; fail "a program does not build against the installed library ($flags)"; }
out=$("$T/try") || fail "the program built against libpaybatch failed: $out"
[ "$out" = "libpaybatch ok" ] || fail "unexpected output: $out"
echo "ok 2 a program built with pkg-config --cflags --libs paybatch runs ($flags)"
echo "install: all checks passed"
