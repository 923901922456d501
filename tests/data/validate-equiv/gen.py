#!/usr/bin/env python3
"""Inputs of test_validate_equiv.sh that stress the duplicate index (deterministic)."""
import os, sys

H = "method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name,description"


def row(m, pid, amt, acct, name="Juan Dela Cruz", desc="payout"):
    cur = "PHP" if m == "gcash" else "MYR"
    pre = "09" if m == "gcash" else "60"
    return f"{m},{pid},{amt},{cur},cust-1,198.51.100.7,{pre}{acct:09d},{name},{desc}"


def write(d, name, rows, nl="\n", bom=False):
    with open(os.path.join(d, name), "wb") as f:
        if bom:
            f.write(b"\xef\xbb\xbf")
        f.write((nl.join([H] + rows) + nl).encode())


def main(d):
    n = 3000
    # every row the same id and the same payout
    write(d, "dup-all-same.csv", [row("gcash", "pay-1", 1000, 5) for _ in range(n)])
    # the whole file twice: every id and payout of the second half is a duplicate
    half = [row("gcash" if i % 2 else "touchngo", f"pay-{i:06d}", 500 + i, i) for i in range(n)]
    write(d, "dup-twice.csv", half + half)
    write(d, "dup-twice-crlf.csv", half + half, nl="\r\n", bom=True)
    write(d, "dup-twice-cr.csv", half[:500] + half[:500], nl="\r")
    # near-collisions: ids one byte apart, prefixes, case, padding; same account other amount
    near = []
    for i in range(n):
        base = f"id{i % 97:03d}"
        v = [base, base + "x", base.upper(), "x" + base, base + " ", '"' + base + ' "', base[:-1]]
        near.append(row("gcash", v[i % len(v)], 1000 + (i % 3), i % 11))
    write(d, "near-collisions.csv", near)
    # reversed order of first and repeat, random-ish order of repeats, quoted multi-line cells
    mixed = []
    for i in range(n):
        j = (i * 7919) % 1000
        desc = '"line one\nline ""two"""' if i % 5 == 0 else "payout"
        mixed.append(row("touchngo", f"p{j}", 500 + (j % 13), j % 37, desc=desc))
        if i % 9 == 0:
            mixed.append("")
    write(d, "dup-mixed-multiline.csv", mixed)
    # big enough for many re-read marks and several 256 KiB reads: duplicates of rows far back,
    # in scrambled order, after multi-line cells; the last line is a duplicate with no line end
    big = []
    for i in range(30000):
        desc = '"a\r\nb ""q"" c"' if i % 11 == 0 else "payout"
        big.append(row("gcash" if i % 3 else "touchngo", f"far-{i:06d}", 700 + i % 500, i, desc=desc))
    for k in range(4000):
        j = (k * 7919 + 13) % 30000
        big.append(big[j] if k % 4 else row("gcash", f"far-{j:06d}", 1, 3))
    with open(os.path.join(d, "dup-far-bom-nofinal.csv"), "wb") as f:
        f.write(b"\xef\xbb\xbf" + ("\r\n".join([H] + big + [big[12345]])).encode())
    # CR-only line ends with LFs inside quoted cells: marks only where a CR ends a record
    cr = []
    for i in range(6000):
        desc = '"x\ny"' if i % 7 == 0 else "payout"
        cr.append(row("touchngo", f"cr-{i % 4000}", 500 + i % 4000, i % 4000, desc=desc))
    write(d, "dup-cr-lf-in-quotes.csv", cr, nl="\r")


main(sys.argv[1] if len(sys.argv) > 1 else ".")
