# Splits bent's output into odd and even runs: a block starts at "goos:", and a package's
# k-th block is its k-th run.
function flush() { if (buf != "") { if (run[pkg] % 2) printf "%s", buf > odd; else printf "%s", buf > even }; buf = "" }
/^goos:/ { flush() }
/^pkg:/ { pkg = $2; run[pkg]++ }
{ buf = buf $0 "\n" }
END { flush() }
