package translate

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// A Field's Paths say, machine-readably, which leaves of Fitbit's JSON answer
// the Field covers, so that a test can hold the simulated Fitbit's answer
// against the translated one field by field with the Field's fidelity
// (internal/translate's golden test). Paths is a space-separated list of
// patterns over the leaf paths of the answer:
//
//	user.encodedId                      a key under a key
//	activities-heart[].value            [] is any element of an array
//	summary.distances[activity=total]   the element whose "activity" is "total"
//	dataset[time=02:*]                  the elements whose "time" starts with 02:
//	summary.*.minutes, activities-*-intraday   * is any run of characters in a key
//	user.{firstName,lastName}           alternatives, expanded into one pattern each
//	value.customHeartRateZones=[]       for a Lost field: the constant (JSON) the
//	                                    translation answers instead, if it answers
//
// A pattern covers the leaves it names and everything below them. A leaf
// path names array elements as [k=v] when the element is an object with an
// identifying key (see Leaves), else by index as [3].

// elementKeys are the keys that identify an element of an array in a leaf
// path, in order of preference: a series point by its date, a distance by
// its activity, a heart-rate zone by its name, a sleep by its date, a body
// log by its date and time, an intraday point by its time. An array whose
// elements have none, or share one, names them by index.
var elementKeys = [][]string{{"dateTime"}, {"activity"}, {"name"}, {"dateOfSleep"}, {"date", "time"}, {"time"}}

// Leaves flattens a decoded JSON answer (encoding/json's any) into its leaf
// paths and values; an empty array or object is a leaf, [] or {}.
func Leaves(v any) map[string]any {
	out := map[string]any{}
	leaves("", v, out)
	return out
}

func leaves(prefix string, v any, out map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			out[prefix] = map[string]any{}
		}
		for k, e := range x {
			if prefix != "" {
				k = prefix + "." + k
			}
			leaves(k, e, out)
		}
	case []any:
		if len(x) == 0 {
			out[prefix] = []any{}
		}
		segs := elementSegments(x)
		for i, e := range x {
			leaves(prefix+segs[i], e, out)
		}
	default:
		out[prefix] = v
	}
}

func elementSegments(x []any) []string {
	segs := make([]string, len(x))
	seen := map[string]bool{}
	for i, e := range x {
		m, _ := e.(map[string]any)
		for _, ks := range elementKeys {
			var parts []string
			for _, k := range ks {
				if s, ok := m[k].(string); ok {
					parts = append(parts, k+"="+s)
				}
			}
			if len(parts) == len(ks) {
				segs[i] = "[" + strings.Join(parts, " ") + "]"
				break
			}
		}
		if segs[i] == "" || seen[segs[i]] {
			for i := range x {
				segs[i] = fmt.Sprintf("[%d]", i)
			}
			return segs
		}
		seen[segs[i]] = true
	}
	return segs
}

// PathPattern is one parsed pattern of Field.Paths.
type PathPattern struct {
	Text string
	segs []string
	// Const is, for a Lost field, the value the translation answers in
	// place of Fitbit's, when HasConst.
	Const    any
	HasConst bool
}

// Patterns parses the Field's Paths; nil when it has none.
func (f Field) Patterns() ([]PathPattern, error) {
	var out []PathPattern
	for _, raw := range strings.Fields(f.Paths) {
		path, constant := raw, ""
		if i := indexOutside(raw, '='); i >= 0 {
			path, constant = raw[:i], raw[i+1:]
		}
		for _, text := range expandBraces(path) {
			p := PathPattern{Text: text}
			if constant != "" {
				if err := json.Unmarshal([]byte(constant), &p.Const); err != nil {
					return nil, fmt.Errorf("pattern %q: constant: %v", raw, err)
				}
				p.HasConst = true
			}
			segs, err := SplitPath(text)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %v", raw, err)
			}
			p.segs = segs
			out = append(out, p)
		}
	}
	return out, nil
}

// Match reports whether the pattern covers the leaf path (as SplitPath
// splits it), and how many of the leaf's segments it names: a pattern covers
// the subtree under what it names.
func (p PathPattern) Match(leaf []string) (n int, ok bool) {
	if len(p.segs) > len(leaf) {
		return 0, false
	}
	for i, s := range p.segs {
		if !segMatch(s, leaf[i]) {
			return 0, false
		}
	}
	return len(p.segs), true
}

// Extends reports whether the pattern names something below the leaf path
// prefix: an empty array or object at prefix is covered by such a pattern.
func (p PathPattern) Extends(prefix []string) bool {
	if len(p.segs) < len(prefix) {
		return false
	}
	for i, s := range prefix {
		if !segMatch(p.segs[i], s) {
			return false
		}
	}
	return true
}

func segMatch(pat, seg string) bool {
	element := strings.HasPrefix(seg, "[")
	switch {
	case pat == "[]":
		return element
	case strings.HasPrefix(pat, "[") && strings.Contains(pat, "*"):
		ok, _ := path.Match(pat[1:len(pat)-1], strings.Trim(seg, "[]"))
		return element && ok
	case strings.HasPrefix(pat, "["):
		return pat == seg
	case element:
		return false
	}
	ok, _ := path.Match(pat, seg)
	return ok
}

// SplitPath splits a leaf path or pattern into its segments: keys, and
// bracketed elements ("[3]", "[dateTime=2026-11-01]", "[]"). Brackets may
// hold dots.
func SplitPath(s string) ([]string, error) {
	var segs []string
	for s != "" {
		switch s[0] {
		case '.':
			s = s[1:]
			continue
		case '[':
			i := strings.IndexByte(s, ']')
			if i < 0 {
				return nil, fmt.Errorf("unclosed [ in %q", s)
			}
			segs = append(segs, s[:i+1])
			s = s[i+1:]
			continue
		}
		i := strings.IndexAny(s, ".[")
		if i < 0 {
			i = len(s)
		}
		segs = append(segs, s[:i])
		s = s[i:]
	}
	return segs, nil
}

// expandBraces expands the first {a,b} group, recursively.
func expandBraces(s string) []string {
	i := strings.IndexByte(s, '{')
	if i < 0 {
		return []string{s}
	}
	j := strings.IndexByte(s[i:], '}')
	if j < 0 {
		return []string{s}
	}
	var out []string
	for _, alt := range strings.Split(s[i+1:i+j], ",") {
		out = append(out, expandBraces(s[:i]+alt+s[i+j+1:])...)
	}
	return out
}

// indexOutside is the index of c outside brackets, or -1.
func indexOutside(s string, c byte) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case c:
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
