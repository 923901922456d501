#!/usr/bin/env bash
# Source rules checked on every run: the committed .clang-format is applied, banned unsafe
# functions are absent (curl's idea), money never touches floating point, and core/ does no I/O.
set -euo pipefail
: "${PB_SOURCE_DIR:?set by ctest}"
cd "$PB_SOURCE_DIR"
fail=0
files=$(find core formats batch tests -name '*.[ch]' | sort)
files_src=$(find core formats batch -name '*.[ch]' | sort)
if command -v clang-format >/dev/null; then
    for f in $files; do
        clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || { echo "not clang-formatted: $f"; fail=1; }
    done
else
    echo "clang-format not installed: formatting not checked" >&2
    exit 1
fi
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atof|strncpy)\s*\('
if grep -n 'cJSON_AddNumberToObject\|cJSON_CreateNumber' $files_src; then
    echo "a JSON number through a double: use pb_json_add_int (formats/json_write.h)"; fail=1
fi
if grep -nw 'valuedouble\|cJSON_GetNumberValue' $files_src; then
    echo "a JSON number read through a double: read its token (core/json_scan.h pb_json_int64)"; fail=1
fi
# All allocation goes through core/alloc.h, so allocation-failure tests reach every path.
# (a member call such as st->ops->free(st) and comment lines are not allocation)
if grep -nE '(^|[^_[:alnum:]>.])(malloc|calloc|realloc|free|strdup|strndup)\s*\(' $files_src |
    grep -v '^core/alloc\.c:' | grep -vE '^[^:]+:[0-9]+:\s*(/\*|\*|//)'; then
    echo "direct malloc/calloc/realloc/free/strdup: use pb_malloc ... (core/alloc.h)"; fail=1
fi
if grep -nE "$banned" $files_src; then
    echo "banned function used (see docs/CONVENTIONS.md)"; fail=1
fi
if grep -nE '\b(double|float)\s+\**\w+\s*[;=,)\[]' core/money.[ch] core/validate.[ch] formats/validator.[ch] formats/gate_request.[ch]; then
    echo "floating point in the money path"; fail=1
fi
if grep -nE '\b(fopen|fwrite|fread|printf|puts|open|read|write|time|clock_gettime|rand|random)\s*\(' core/*.c | grep -v 'snprintf\|vsnprintf'; then
    echo "core/ does I/O, reads the clock or draws random numbers"; fail=1
fi
# Engine and tool: only batch/cli/ prints for people (the log sink writes the logs); the engines
# report through structs and callbacks.
engines=$(find batch/send batch/listen batch/store batch/net batch/sandbox batch/util -name '*.c' 2>/dev/null |
    grep -v '^batch/util/log\.c$' | sort)
if [ -n "$engines" ] && grep -nE '\b(printf|fprintf|puts|fputs|fputc|putchar|perror)\s*\(' $engines |
    grep -v 'snprintf\|pb_buf_printf'; then
    echo "an engine prints for people: report through a struct or a callback to batch/cli"; fail=1
fi
# Dependencies point downward only: each folder may include the folders listed for it.
declare -A allowed=(
    [core]="core"
    [formats]="core formats"
    [batch/util]="core formats batch/util"
    [batch/net]="core formats batch/util batch/net"
    [batch/store]="core formats batch/util batch/store"
    [batch/sandbox]="core formats batch/util batch/net batch/sandbox"
    [batch/send]="core formats batch/util batch/net batch/store batch/send batch/listen"
    [batch/listen]="core formats batch/util batch/net batch/store batch/listen"
    [batch/cli]="core formats batch/util batch/net batch/store batch/sandbox batch/send batch/listen batch/cli"
    [batch]="core formats batch/util batch/net batch/store batch/sandbox batch/send batch/listen batch/cli"
)
for f in $files_src; do
    dir=$(dirname "$f")
    if [ -z "${allowed[$dir]+x}" ]; then
        echo "$f: folder $dir has no place in the layer list of test_source_rules.sh"; fail=1; continue
    fi
    while IFS= read -r inc; do
        incdir=$(dirname "$inc")
        ok=0
        for a in ${allowed[$dir]}; do [ "$incdir" = "$a" ] && ok=1; done
        [ $ok -eq 1 ] || { echo "$f includes $inc: $dir may not depend on $incdir"; fail=1; }
    done < <(grep -oE '^#include "[a-z_/]+\.h"' "$f" | sed -E 's/^#include "(.*)"/\1/')
done
[ $fail -eq 0 ] && echo "source rules: ok"
exit $fail
