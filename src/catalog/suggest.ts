function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The known ids closest to `input`, best first (substring matches before edit distance). */
export function nearestIds(input: string, ids: readonly string[], limit = 3): string[] {
  const needle = input.toLowerCase().trim();
  return [...ids]
    .map((candidate) => {
      const contains = needle.length > 0 && (candidate.includes(needle) || needle.includes(candidate));
      return { candidate, score: contains ? -1 : editDistance(needle, candidate) };
    })
    .sort((a, b) => a.score - b.score || a.candidate.localeCompare(b.candidate))
    .slice(0, limit)
    .map((x) => x.candidate);
}
