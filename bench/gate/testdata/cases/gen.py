# Writes the constructed gate cases described in README.md. Run: python3 gen.py
import random, os
random.seed(10)
out = os.path.dirname(os.path.abspath(__file__))
HDR = "goos: linux\ngoarch: amd64\npkg: {pkg}\ncpu: {cpu}\n"
XEON = "Intel(R) Xeon(R) Processor"
def line(name, iters, vals):
    s = "Benchmark%-14s\t%8d" % (name + "-2", iters)
    for v, u in vals:
        s += "\t%10s %s" % (v, u)
    return s + "\n"
def ns(x): return "%.1f" % x
def write(fn, text):
    open(os.path.join(out, fn), "w").write(text)

# all-equal: Stable's ns/op is the same in all 10+10 runs; Parse goes 2 -> 9 allocs/op.
def alleq(parse_allocs, parse_bytes, parse_ns):
    t = HDR.format(pkg="example.com/kv", cpu=XEON)
    for _ in range(10):
        t += line("Stable", 1000000000, [("0.2500", "ns/op"), ("0", "B/op"), ("0", "allocs/op")])
    for _ in range(10):
        t += line("Parse", 3000000, [(ns(parse_ns * random.uniform(0.97, 1.08)), "ns/op"), (str(parse_bytes), "B/op"), (str(parse_allocs), "allocs/op")])
    return t + "PASS\nok  \texample.com/kv\t21.904s\n"
write("alleq-base.txt", alleq(2, 48, 340))
write("alleq-new.txt", alleq(9, 212, 905))

# Non-finite and impossible values, one bad line each in an otherwise valid file.
base = open(os.path.join(out, "alleq-new.txt")).read().splitlines(True)
def variant(fn, lineno, old, new):
    ls = list(base)
    assert old in ls[lineno-1], (fn, ls[lineno-1])
    ls[lineno-1] = ls[lineno-1].replace(old, new)
    write(fn, "".join(ls))
pl = base[16]  # line 17: the third Parse result
nsv = pl.split()[2]
variant("nan-ns.txt", 17, nsv + " ns/op", "NaN ns/op")
variant("inf-ns.txt", 17, nsv + " ns/op", "+Inf ns/op")
variant("inf-allocs.txt", 17, "9 allocs/op", "+Inf allocs/op")
variant("neg-allocs.txt", 17, "9 allocs/op", "-3 allocs/op")
variant("neg-iters.txt", 17, "3000000", "-3000000")
# Finite but huge: a valid value the gate must carry through every output format.
t = "".join(base).replace("212 B/op", "1e308 B/op")
write("huge-bytes.txt", t)

# Configurations: one file mixes notes, operating systems and GOMAXPROCS. Pooled, the medians
# hide that "without-cache" and darwin regressed while "with-cache" and linux improved.
def block(goos, cpu, note, name, procs, allocs, bytes_, nsv, n=6):
    t = "goos: %s\ngoarch: amd64\npkg: example.com/kv\ncpu: %s\n" % (goos, cpu)
    if note: t = "note: %s\n" % note + t
    for _ in range(n):
        t += line(name, 2000000, [(ns(nsv*random.uniform(0.97,1.06)), "ns/op"), (str(bytes_), "B/op"), (str(allocs), "allocs/op")]).replace(name+"-2", name+"-%d" % procs)
    return t + "PASS\nok  \texample.com/kv\t9.120s\n"
M1 = "Apple M1"
# A note line holds until the file changes it, so the noted blocks come last.
write("mixed-base.txt",
      block("linux", XEON, "", "Scan", 2, 2, 64, 300) + block("darwin", M1, "", "Scan", 2, 3, 80, 250) +
      block("linux", XEON, "", "Put", 1, 2, 64, 200) + block("linux", XEON, "", "Put", 2, 4, 128, 230) +
      block("linux", XEON, "with-cache", "Get", 2, 2, 32, 120) + block("linux", XEON, "without-cache", "Get", 2, 5, 96, 410))
write("mixed-new.txt",
      block("linux", XEON, "", "Scan", 2, 1, 48, 290) + block("darwin", M1, "", "Scan", 2, 4, 96, 260) +
      block("linux", XEON, "", "Put", 1, 1, 48, 190) + block("linux", XEON, "", "Put", 2, 5, 144, 235) +
      block("linux", XEON, "with-cache", "Get", 2, 1, 16, 118) + block("linux", XEON, "without-cache", "Get", 2, 6, 112, 420))
# Same code, measured on another CPU: nothing may be compared across the two.
write("cpu-a.txt", block("linux", XEON, "", "Get", 2, 2, 32, 120, n=10))
write("cpu-b.txt", block("linux", "AMD EPYC 7B13", "", "Get", 2, 2, 32, 120, n=10))
# Unit metadata only in the base file: hits/op is exact there.
def hits(meta, v):
    t = "Unit hits/op assume=exact\n" if meta else ""
    t += "goos: linux\ngoarch: amd64\npkg: example.com/kv\ncpu: %s\n" % XEON
    for _ in range(3):
        t += line("Lookup", 5000000, [(ns(250*random.uniform(0.97,1.06)), "ns/op"), (str(v), "hits/op"), ("0", "B/op"), ("0", "allocs/op")])
    return t + "PASS\nok  \texample.com/kv\t4.310s\n"
write("meta-base.txt", hits(True, 3))
write("meta-new.txt", hits(False, 4))
