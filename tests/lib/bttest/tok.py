"""`bertology tokenize` against a Python reference tokenizer (tests/text/*_ref.py)."""
import re

from .proc import bertology


def cli(argv, stdin=b""):
    """`bertology tokenize ARGV` on stdin (bytes), whatever its exit code: its Result."""
    return bertology(["tokenize"] + list(argv), input=stdin, expect=None)


def tokenize(model, lines, pair=False, max_len=512, timeout=600):
    """`bertology tokenize --types` of lines (pairs as "a<TAB>b"): one "ids<TAB>types" string
    per line. A non-zero exit fails the test."""
    data = b"".join(line.encode("utf-8", "surrogatepass") + b"\n" for line in lines)
    argv = ["tokenize", "--model", model, "--max-seq-length", max_len, "--types"] + (["--pair"] if pair else [])
    out = bertology(argv, input=data, timeout=timeout).stdout.decode().split("\n")
    assert out[-1] == "", "the output must end with a newline"
    return out[:-1]


def expected(ref, line, pair, max_len):
    """What ref (an object with encode(a, b, max_len) -> (ids, types)) gives for one line."""
    a, b = line.split("\t") if pair else (line, None)
    ids, types = ref.encode(a, b, max_len)
    return ids, " ".join(map(str, ids)) + "\t" + " ".join(map(str, types))


def mismatches(model, ref, lines, pair, max_len, label):
    """One message per line where bertology and the reference differ ([] when they agree)."""
    got = tokenize(model, lines, pair, max_len)
    if len(got) != len(lines):
        return ["%s: %d output lines for %d inputs" % (label, len(got), len(lines))]
    bad = []
    for line, g in zip(lines, got):
        ids, want = expected(ref, line, pair, max_len)
        if g != want:
            msg = "%s max_len=%d: input %r\n  want %s\n  got  %s" % (label, max_len, line, want, g)
            if hasattr(ref, "inv"):
                msg += "\n  want tokens %s" % [ref.inv.get(i, "?") for i in ids]
            bad.append(msg)
    return bad


def bench(model, data):
    """`bertology tokenize --bench DATA --skip-header` (a TSV with a header line: SST-2's
    train.tsv): {name: number} of the key=value pairs it prints (lines, tokens, tokens/s,
    lines/s...). A non-zero exit or no such pair fails the test."""
    r = bertology(["tokenize", "--model", model, "--bench", data, "--skip-header"])
    print(r.stdout.strip())
    got = {k: float(v) for k, v in re.findall(r"([\w/]+)=([0-9.]+)", r.stdout)}
    assert "lines" in got, r.report("no lines=N in the output of --bench")
    return got
