# Sourced by bench/s3auth.sh and bench/tls.sh: the medians and ratios of
# their tables (each runs a baseline and a variant in turns, ROUNDS times).

# median: of the numbers on stdin, one per line.
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# ratio B A: B / A with two decimals (0 when A is 0).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }

# pair_ratio "B1 B2 ..." "A1 A2 ...": the median of the rounds' own ratios
# Bi / Ai. Each round's two runs are back to back, so this follows the
# machine's drift less than a ratio of medians does.
pair_ratio() {
	local -a b a
	local i
	read -r -a b <<<"$1"
	read -r -a a <<<"$2"
	for i in "${!a[@]}"; do
		awk -v x="${b[$i]}" -v y="${a[$i]}" 'BEGIN { printf "%.4f\n", y ? x / y : 0 }'
	done | median | awk '{ printf "%.2f", $1 }'
}
