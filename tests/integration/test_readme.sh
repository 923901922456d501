#!/usr/bin/env bash
# The README cannot rot (issue #16): every fenced shell block of README.md is either run here
# or marked, right above it, `<!-- not-run: REASON -->`; a block that is neither fails.
#  - The tutorial (between <!-- tutorial:begin --> and <!-- tutorial:end -->): every `$ command`
#    runs, in order, in one shell, in a scratch directory (instead of /tmp/tour, with this
#    build's paybatch).
#  - `<!-- run: CONTEXT -->` above a block: its commands run in one shell in a fresh scratch
#    directory prepared by CONTEXT (below: what a reader already has there).
#      repo   samples/ and build/paybatch, as in a checkout after the build;
#      gate   repo + an operator's payouts.csv (samples/payouts-valid.csv), its control file
#             payouts.ctl, an approver's key alice.pem, a sandbox on a free loopback port for
#             project 123 with the secret `...`, and paybatch.conf naming project, gate and store;
#      setup  the set-up lines: install-deps.sh with --check (a test installs nothing),
#             run-main.sh in a copy of the checkout with cmake stubbed (this build is the one it
#             would make), and the test-all.sh line must be .ci/run's own line (CI runs it).
# Commands in running text (`...` spans: synopses, long benchmarks, a PostgreSQL cluster) are
# not run, but what they name must exist: a paybatch command and each --option it is given (its
# --help), any --option a span starts with, programs under build/, files of the checkout, fuzz
# targets.
# A `console` block shows output under each `$ command`: the output must have that shape, equal
# line by line once hex strings of 8+ digits and ISO times are masked; a line "..." stands for
# any number of lines. A `sh` block shows none: only its exit status is checked. Every command
# must exit 0, or N when its line ends in a comment `# exit N ...`. Fixed loopback ports (8080,
# 8765) become free ones and https://example.org/cb the loopback receiver: a test never leaves
# 127.0.0.1 and never collides with another run. PB_README_PRINT=1 prints what each command
# printed instead (to refresh the README after a deliberate change of output).
set -euo pipefail
: "${PAYBATCH:?set by ctest}" "${PB_SOURCE_DIR:?set by ctest}"
T=$(mktemp -d)
cleanup() {
    [ -f "$T/jobs" ] && while read -r p; do kill "$p" 2>/dev/null || true; done <"$T/jobs"
    rm -rf "$T"
}
trap cleanup EXIT
# a reader's shell has no PAYBATCH_<OPTION> of the developer's
for v in $(compgen -e | grep '^PAYBATCH_' || true); do unset "$v"; done
BIN=$(cd "$(dirname "$PAYBATCH")" && pwd)
export PB_T=$T PB_BIN=$BIN

python3 - "$PB_SOURCE_DIR" <<'PY'
import os, re, socket, subprocess, sys
src = sys.argv[1]
t, binp = os.environ["PB_T"], os.environ["PB_BIN"]
lines = open(f"{src}/README.md", encoding="utf-8").read().split("\n")
SHELL = {"", "sh", "bash", "shell", "console"}
CONTEXTS = ("repo", "gate", "setup")

# 1. every fenced block, with the marker above it and whether it is in the tutorial
blocks, bad, not_run = [], [], 0
i, in_tour = 0, False
while i < len(lines):
    ln = lines[i]
    if ln.strip() == "<!-- tutorial:begin -->":
        in_tour = True
    elif ln.strip() == "<!-- tutorial:end -->":
        in_tour = False
    m = re.match(r"^(`{3,})\s*([\w-]*)\s*$", ln)
    if not m:
        i += 1
        continue
    fence, lang, start = m.group(1), m.group(2), i + 1
    j = i + 1
    while j < len(lines) and lines[j].strip() != fence:
        j += 1
    if j == len(lines):
        bad.append(f"README.md:{start}: a fenced block that never closes")
        break
    body = lines[i + 1:j]
    k = i - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    mark = lines[k].strip() if k >= 0 else ""
    i = j + 1
    if lang not in SHELL:
        continue
    if in_tour:
        blocks.append(("tour", lang, start, body))
        continue
    nr = re.match(r"^<!-- not-run:(.*)-->$", mark)
    run = re.match(r"^<!-- run: (\w+) -->$", mark)
    if nr:
        not_run += 1
        if len(nr.group(1).strip()) < 10:
            bad.append(f"README.md:{start}: <!-- not-run: --> needs a reason")
    elif run and run.group(1) in CONTEXTS:
        blocks.append((run.group(1), lang, start, body))
    else:
        bad.append(f"README.md:{start}: a ```{lang} block neither run by test_readme.sh "
                   f"(<!-- run: {'|'.join(CONTEXTS)} -->) nor marked <!-- not-run: REASON -->")

# 2. the commands in running text (synopses, long benchmarks, a cluster) are not run, but what
# they name must exist: a paybatch command and its options (--help), every --option of an inline
# span starting with it (or with --), the programs under build/ and the files of the checkout
helps = {}
for c in ("validate", "plan", "approve", "send", "listen", "reconcile", "status", "sandbox"):
    helps[c] = subprocess.run([f"{binp}/paybatch", c, "--help"], capture_output=True,
                              text=True).stdout
all_opts = set(re.findall(r"--[a-z][a-z0-9-]*", "".join(helps.values())))
prose = re.sub(r"\n```.*?\n```", "", "\n".join(lines), flags=re.S)
fuzz = set(os.listdir(f"{src}/tests/fuzz/corpus"))
for span in re.findall(r"`([^`]+)`", prose):
    span = " ".join(span.split())
    m = re.match(r"^(?:\./build/)?paybatch (\w+)", span)
    if m:
        if m.group(1) not in helps:
            bad.append(f"README: `{span}`: no command {m.group(1)}")
            continue
        for o in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", span):
            if o not in re.findall(r"--[a-z][a-z0-9-]*", helps[m.group(1)]) and o != "--help":
                bad.append(f"README: `{span}`: paybatch {m.group(1)} has no {o}")
    elif span.startswith("--"):
        o = re.match(r"--[a-z][a-z0-9-]*", span).group(0)
        if o not in all_opts:
            bad.append(f"README: `{span}`: no command has {o}")
    for p in re.findall(r"(?<![\w/.-])\./build/([\w/.-]+)", span):
        if not os.path.exists(f"{binp}/{p}"):
            bad.append(f"README: `{span}`: build/{p} is not built")
    for p in re.findall(r"(?<![\w/.-])((?:scripts|docs|samples|tests)/[\w/.-]*\w)", span):
        if not os.path.exists(f"{src}/{p}"):
            bad.append(f"README: `{span}`: {p} is not in the checkout")
    for f in re.findall(r"\bfuzz_(\w+)", span):
        if f not in fuzz:
            bad.append(f"README: `{span}`: no fuzz target {f} (tests/fuzz/corpus/{f})")
if bad:
    print("FAIL:\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)

def steps_of(lang, body):
    """[(command, expected lines or None)]; a sh block joins continued lines, skips comments"""
    steps = []
    if lang == "console":
        for line in body:
            if line.startswith("$ "):
                steps.append([line[2:], []])
            elif steps:
                steps[-1][1].append(line)
        return steps
    cur = ""
    for line in body:
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        cur += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            steps.append([cur, None])
            cur = ""
    return steps

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
P1, P2 = free_port(), free_port()
SUBST = [("$PWD/build", binp), ("/tmp/tour", f"{t}/tour"), ("127.0.0.1:8080", f"127.0.0.1:{P1}"),
         ("127.0.0.1:8765", f"127.0.0.1:{P2}"), ("https://example.org/cb", f"http://127.0.0.1:{P2}/cb")]

def prepare(n, ctx):
    """the scratch directory of session n and the shell lines that set up its context"""
    d = f"{t}/s{n}"
    os.makedirs(f"{d}/samples")
    os.makedirs(f"{d}/build")
    for f in os.listdir(f"{src}/samples"):
        if f.endswith(".csv"):
            subprocess.run(["cp", f"{src}/samples/{f}", f"{d}/samples/"], check=True)
    os.symlink(f"{binp}/paybatch", f"{d}/build/paybatch")
    pre = ["set +e", f"cd {d}"]
    if ctx == "gate":
        subprocess.run(["cp", f"{src}/samples/payouts-valid.csv", f"{d}/payouts.csv"], check=True)
        open(f"{d}/payouts.ctl", "w").write("rows = 6\ntotal = PHP:101510.00\ntotal = MYR:20255.50\n")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", f"{d}/alice.pem"],
                       check=True, capture_output=True)
        pre += [
            f"PAYBATCH_SECRET_KEY=... {binp}/paybatch sandbox --listen 127.0.0.1:0 --project-id 123"
            f" >{t}/sb{n}.out 2>{t}/sb{n}.err & echo $! >>{t}/jobs",
            f"for _ in $(seq 100); do grep -q '^listening on' {t}/sb{n}.out && break; sleep 0.05; done",
            f"port=$(sed -n 's/^listening on 127\\.0\\.0\\.1:\\([0-9]*\\)$/\\1/p' {t}/sb{n}.out)",
            "printf 'project_id = 123\\ngate_url = http://127.0.0.1:%s\\nstate = payouts.db\\n' "
            "\"$port\" >paybatch.conf",
            "export PAYBATCH_SECRET_KEY=...",
        ]
    if ctx == "setup":
        for x in ("scripts", "samples"):
            subprocess.run(["cp", "-r", f"{src}/{x}", d], check=True)
        os.makedirs(f"{d}/stub")
        open(f"{d}/stub/cmake", "w").write("#!/bin/sh\nexit 0\n")
        os.chmod(f"{d}/stub/cmake", 0o755)
        pre.append(f"export PATH={d}/stub:$PATH")
    return pre

# 3. the sessions: the tutorial is one, every run: block another
sessions = []  # (ctx, README line, [(command as written, command run, expected, want rc)])
tour = [s for b in blocks if b[0] == "tour" for s in steps_of(b[1], b[3])]
assert len(tour) >= 10, f"only {len(tour)} tutorial commands found"
tour_line = next(b[2] for b in blocks if b[0] == "tour")
sessions.append(("tour", tour_line, tour))
for ctx, lang, start, body in blocks:
    if ctx != "tour":
        sessions.append((ctx, start, steps_of(lang, body)))

ci = open(f"{src}/.ci/run").read().splitlines()
plan = []
for n, (ctx, start, steps) in enumerate(sessions):
    script = prepare(n, ctx)
    for k, (cmd, want) in enumerate(steps):
        m = re.search(r"\s#\s*exit\s+(\d+)\b.*$", cmd)
        rc_want = int(m.group(1)) if m else 0
        c = cmd[:m.start()] if m else cmd
        for a, b in SUBST:
            c = c.replace(a, b)
        if ctx == "setup":
            if "scripts/test-all.sh" in c:
                # the whole suite, this test included: CI runs exactly this line
                if c.strip() not in ci:
                    print(f"FAIL: README.md:{start}: `{c.strip()}` is not a line of .ci/run", file=sys.stderr)
                    sys.exit(1)
                continue
            c = c.replace("scripts/install-deps.sh", "scripts/install-deps.sh --check")
        o = f"{t}/s{n}.{k}"
        if c.rstrip().endswith("&"):
            # as written (its own redirections), in the background; it prints nothing here
            script.append(f"{c.rstrip()} echo $! >>{t}/jobs; : >{o}.out; echo 0 >{o}.rc")
        else:
            # a newline ends the command: a comment of its own stays a comment
            script.append(f"{{ {c}\n}} >{o}.out 2>{o}.err </dev/null; echo $? >{o}.rc")
        plan.append((n, k, start, cmd, want, rc_want))
    open(f"{t}/run{n}.sh", "w").write("\n".join(script) + "\n")
    subprocess.run(["bash", f"{t}/run{n}.sh"], timeout=300)

def norm(s):
    s = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>", s)
    s = re.sub(r"\b[0-9a-f]{8,}\b", "<hex>", s)
    s = s.replace(f"{t}/tour", "/tmp/tour")
    s = s.replace(f"127.0.0.1:{P1}", "127.0.0.1:8080").replace(f"127.0.0.1:{P2}", "127.0.0.1:8765")
    return s.rstrip()

printing = os.environ.get("PB_README_PRINT")
for n, k, start, cmd, want, rc_want in plan:
    o = f"{t}/s{n}.{k}"
    got = open(f"{o}.out", encoding="utf-8", errors="replace").read().splitlines()
    rc = int(open(f"{o}.rc").read().strip())
    if printing:
        print(f"$ {cmd}\n" + "\n".join(norm(g) for g in got))
        print(f"# exit {rc}", file=sys.stderr)
        continue
    ok = rc == rc_want
    if ok and want is not None:
        # "..." in the README: any number of lines (matched line by line, no regex backtracking)
        w = [norm(x) for x in want]
        g = [norm(x) for x in got]
        def match(wi, gi):
            while wi < len(w):
                if w[wi].strip() == "...":
                    return any(match(wi + 1, j) for j in range(gi, len(g) + 1))
                if gi >= len(g) or w[wi] != g[gi]:
                    return False
                wi, gi = wi + 1, gi + 1
            return gi == len(g)
        ok = match(0, 0)
    if not ok:
        err = open(f"{o}.err", errors="replace").read()[-600:] if os.path.exists(f"{o}.err") else ""
        bad.append(f"README.md:{start}: $ {cmd}\n--- README (exit {rc_want})\n"
                   + ("\n".join(want) if want is not None else "(output not shown)")
                   + f"\n--- got (exit {rc})\n" + "\n".join(got) + ("\n--- stderr\n" + err if err else ""))
if bad:
    print("FAIL: the README and the program disagree:\n\n" + "\n\n".join(bad), file=sys.stderr)
    sys.exit(1)
if not printing:
    print(f"ok: {len(plan)} README commands in {len(sessions)} sessions exit and print what "
          f"the README shows; {not_run} shell blocks marked not-run with a reason; the commands "
          f"in running text name real commands, options, programs and files")
PY
