package simkit

import (
	"slices"
	"strings"
)

// ParseScopes splits a space-separated scope parameter. It returns the
// sorted, de-duplicated scopes and the first one valid rejects, if any.
func ParseScopes(param string, valid func(string) bool) (scopes []string, unknown string) {
	for _, f := range strings.Fields(param) {
		if !valid(f) {
			return nil, f
		}
		scopes = append(scopes, f)
	}
	slices.Sort(scopes)
	return slices.Compact(scopes), ""
}

// IntersectScopes keeps the granted scopes that were requested, sorted and
// de-duplicated.
func IntersectScopes(requested, granted []string) []string {
	var out []string
	for _, g := range granted {
		if slices.Contains(requested, g) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// UnionScopes merges two scope lists, sorted and de-duplicated.
func UnionScopes(a, b []string) []string {
	out := append(append([]string(nil), a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
