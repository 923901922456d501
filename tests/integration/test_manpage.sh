#!/usr/bin/env bash
# The manual agrees with the program: every option of every command's --help is in
# docs/paybatch.1 under OPTIONS with that command named ("Commands: ..."), and every option the
# page gives a command is in its --help (both ways); every finding code (core/findings.c), exit
# code (batch/cli/cli.h), result value and result column (formats/result_csv.c) is in the page;
# and the page renders without roff warnings.
set -euo pipefail
: "${PAYBATCH:?set by ctest}" "${PB_SOURCE_DIR:?set by ctest}"
command -v man >/dev/null || { echo "FAIL: man is needed (scripts/install-deps.sh installs man-db)" >&2; exit 1; }
PAGE="$PB_SOURCE_DIR/docs/paybatch.1"
warn=$(MANWIDTH=100 man --warnings -E UTF-8 -l "$PAGE" 2>&1 >/dev/null || true)
[ -z "$warn" ] || { echo "FAIL: roff warnings: $warn" >&2; exit 1; }

python3 - "$PAYBATCH" "$PAGE" "$PB_SOURCE_DIR" <<'PY'
import re, subprocess, sys
pb, page, src = sys.argv[1:4]
cmds = "validate send plan approve status reconcile listen sandbox".split()
common = {"--config", "--quiet", "--verbose", "--log-format", "--help"}
text = open(page, encoding="utf-8").read()
plain = text.replace("\\-", "-").replace("\\(aq", "'")
bad = []

# the page's options: ".TP" then the option line then "Commands: a, b."
man = {c: set() for c in cmds}
lines = plain.splitlines()
for i, l in enumerate(lines):
    if l == ".TP" and i + 2 < len(lines) and lines[i + 2].startswith("Commands: "):
        m = re.search(r'(--[a-z0-9-]+|^\.BI "([a-z_]+) = )', lines[i + 1])
        name = m.group(1) if m.group(1).startswith("--") else m.group(2)
        for c in re.split(r"[,.]\s*", lines[i + 2][len("Commands: "):]):
            if c in man:
                man[c].add(name)
            elif c and c != "Config file only":
                bad.append(f"{name}: unknown command {c!r} in the page")
common_sec = plain[plain.find(".SS Common options"):plain.find(".SH INPUT FILE")]
for o in common:
    if o not in common_sec:
        bad.append(f"{o}: not under 'Common options' in the page")

for c in cmds:
    h = subprocess.run([pb, c, "--help"], capture_output=True, text=True).stdout
    helped = set(re.findall(r"^  (?:-\w, )?(--[a-z0-9-]+)", h, re.M))
    helped |= set(re.findall(r"^  ([a-z_]+) = ", h, re.M))
    helped -= common
    for o in sorted(helped - man[c]):
        bad.append(f"{c}: {o} is in --help, not in the page")
    for o in sorted(man[c] - helped):
        bad.append(f"{c}: {o} is in the page, not in --help")

findings = re.findall(r'\{"([a-z-]+)", PB_SEV_', open(f"{src}/core/findings.c").read())
assert len(findings) > 20, findings
for f in findings:
    if not re.search(r"(?<![a-z-])" + re.escape(f) + r"(?![a-z-])", plain):
        bad.append(f"finding {f} is not in the page")
exits = re.findall(r"PB_EXIT_[A-Z]+ = (\d+)", open(f"{src}/batch/cli/cli.h").read())
status = plain[plain.find(".SH EXIT STATUS"):plain.find(".SH ENVIRONMENT")]
for e in exits:
    if f".B {e}\n" not in status:
        bad.append(f"exit status {e} is not under EXIT STATUS")
rc = open(f"{src}/formats/result_csv.c").read()
cols = re.findall(r'"([a-z_]+)"', rc[rc.find("pb__cols["):rc.find("};", rc.find("pb__cols["))])
body = rc[rc.find("const char *pb_result_name("):]
body = body[:body.find("\n}\n")]
results = set(re.findall(r'"([a-z_]+)"', body))
result_sec = plain[plain.find(".SH RESULT FILE"):plain.find(".SH STATE STORE")]
for w in cols + sorted(results):
    if f".B {w}" not in result_sec and f".BR {w} " not in result_sec:
        bad.append(f"result column or value {w} is not under RESULT FILE")
if bad:
    print("\n".join("FAIL: " + b for b in bad), file=sys.stderr)
    sys.exit(1)
print(f"ok: {sum(len(v) for v in man.values())} command options, {len(findings)} findings, "
      f"{len(exits)} exit codes, {len(cols)} columns, {len(results)} results")
PY
