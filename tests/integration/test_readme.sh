#!/usr/bin/env bash
# The README's tutorial cannot rot: every `$ command` between <!-- tutorial:begin --> and
# <!-- tutorial:end --> runs, in order, in one shell (in a scratch directory instead of
# /tmp/tour, with this build's paybatch), and its standard output must have the shape of the
# lines printed under it: equal line by line once hex strings of 8+ digits, ISO times and
# run-dependent numbers in "(... s)" are masked; a line "..." in the README stands for any
# number of lines. PB_README_PRINT=1 prints what each command printed instead (to refresh
# the README after a deliberate change of output).
set -euo pipefail
: "${PAYBATCH:?set by ctest}" "${PB_SOURCE_DIR:?set by ctest}"
T=$(mktemp -d)
cleanup() {
    [ -f "$T/jobs" ] && while read -r p; do kill "$p" 2>/dev/null || true; done <"$T/jobs"
    pkill -f "paybatch sandbox --listen 127.0.0.1:8080" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
BIN=$(cd "$(dirname "$PAYBATCH")" && pwd)
export PB_T=$T PB_BIN=$BIN

python3 - "$PB_SOURCE_DIR/README.md" <<'PY'
import os, re, subprocess, sys
text = open(sys.argv[1], encoding="utf-8").read()
t, binp = os.environ["PB_T"], os.environ["PB_BIN"]
part = text[text.index("<!-- tutorial:begin -->"):text.index("<!-- tutorial:end -->")]
steps = []  # (command, expected lines)
for block in re.findall(r"```console\n(.*?)```", part, re.S):
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append([line[2:], []])
        elif steps:
            steps[-1][1].append(line)
assert len(steps) >= 10, f"only {len(steps)} commands found"
script = ["set +e", f"cd {t}/repo"]
os.makedirs(f"{t}/repo/samples")
src = os.path.dirname(sys.argv[1])
for f in os.listdir(f"{src}/samples"):
    if f.endswith(".csv"):
        subprocess.run(["cp", f"{src}/samples/{f}", f"{t}/repo/samples/"], check=True)
for i, (cmd, _) in enumerate(steps):
    c = re.sub(r"#\s*exit\s+\d+\s*$", "", cmd)
    c = c.replace("$PWD/build", binp).replace("/tmp/tour", f"{t}/tour")
    if c.rstrip().endswith("&"):
        # as written (its own redirections), in the background; it prints nothing here
        script.append(f"{c.rstrip()} echo $! >>{t}/jobs; : >{t}/out.{i}; echo 0 >{t}/rc.{i}")
    else:
        script.append(f"{{ {c} ; }} >{t}/out.{i} 2>{t}/err.{i} </dev/null; echo $? >{t}/rc.{i}")
open(f"{t}/run.sh", "w").write("\n".join(script) + "\n")
r = subprocess.run(["bash", f"{t}/run.sh"], timeout=300)

def norm(s):
    s = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>", s)
    s = re.sub(r"\b[0-9a-f]{8,}\b", "<hex>", s)
    s = s.replace(f"{t}/tour", "/tmp/tour")
    return s.rstrip()

bad, printing = [], os.environ.get("PB_README_PRINT")
for i, (cmd, want) in enumerate(steps):
    got = open(f"{t}/out.{i}", encoding="utf-8", errors="replace").read().splitlines()
    rc = open(f"{t}/rc.{i}").read().strip()
    if printing:
        print("$ " + cmd)
        print("\n".join(g.replace(f"{t}/tour", "/tmp/tour") for g in got))
        print(f"# exit {rc}", file=sys.stderr)
        continue
    # "..." in the README: any number of lines (matched line by line, no regex backtracking)
    w = [norm(x) for x in want]
    g = [norm(x) for x in got]
    def match(wi, gi):
        while wi < len(w):
            if w[wi].strip() == "...":
                return any(match(wi + 1, k) for k in range(gi, len(g) + 1))
            if gi >= len(g) or w[wi] != g[gi]:
                return False
            wi, gi = wi + 1, gi + 1
        return gi == len(g)
    if not match(0, 0):
        err = open(f"{t}/err.{i}", errors="replace").read()[-600:] if os.path.exists(f"{t}/err.{i}") else ""
        bad.append(f"$ {cmd}\n--- README\n" + "\n".join(want) + "\n--- got (exit " + rc + ")\n"
                   + "\n".join(got) + ("\n--- stderr\n" + err if err else ""))
if bad:
    print("FAIL: the README's tutorial and the program disagree:\n\n" + "\n\n".join(bad), file=sys.stderr)
    sys.exit(1)
if not printing:
    print(f"ok: {len(steps)} tutorial commands print what the README shows")
PY
