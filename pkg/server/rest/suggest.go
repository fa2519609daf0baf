package rest

import "strings"

// Hints for unknown names ("Perhaps you meant …"), as PostgREST gives them.

// suggest returns the candidate closest to s, or "" when none is close.
func suggest(s string, candidates []string) string {
	best, bestScore := "", 0.0
	for _, c := range candidates {
		if sc := similarity(s, c); sc > bestScore {
			best, bestScore = c, sc
		}
	}
	if bestScore < 0.5 {
		return ""
	}
	return best
}

// similarity is a bigram Dice coefficient.
func similarity(a, b string) float64 {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if a == b {
		return 1
	}
	if len(a) < 2 || len(b) < 2 {
		return 0
	}
	grams := map[string]int{}
	for i := 0; i+1 < len(a); i++ {
		grams[a[i:i+2]]++
	}
	match := 0
	for i := 0; i+1 < len(b); i++ {
		g := b[i : i+2]
		if grams[g] > 0 {
			grams[g]--
			match++
		}
	}
	return 2 * float64(match) / float64(len(a)-1+len(b)-1)
}
