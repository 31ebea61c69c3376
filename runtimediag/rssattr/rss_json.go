package rssattr

import (
	"encoding/json"
	"strconv"
)

// A figure that was not read is null in JSON, never a 0 that looks measured: the Go values keep
// the documented zero, and the methods below write null for it.

// MarshalJSON writes resident_bytes and unexplained_bytes as null when the resident set was not
// read (statm and smaps both unread), and a category that was not measured with bytes null.
func (r RSS) MarshalJSON() ([]byte, error) {
	type plain RSS
	v := struct {
		plain
		ResidentBytes    *uint64 `json:"resident_bytes"`
		UnexplainedBytes *int64  `json:"unexplained_bytes"`
		NonGoBytes       *uint64 `json:"non_go_bytes"`
	}{plain: plain(r)}
	if r.ResidentBytes > 0 {
		v.ResidentBytes, v.UnexplainedBytes = &r.ResidentBytes, &r.UnexplainedBytes
	}
	if r.NonGoMeasured() {
		v.NonGoBytes = &r.NonGoBytes
	}
	return json.Marshal(v)
}

// ResidentKnown reports whether ResidentBytes (and so UnexplainedBytes) was measured.
func (r *RSS) ResidentKnown() bool { return r.ResidentBytes > 0 }

// NonGoMeasured reports whether any category outside the Go runtime was measured, so that
// NonGoBytes means something; before the first full classification none is, and NonGoBytes (JSON
// null) is in the unexplained remainder.
func (r *RSS) NonGoMeasured() bool {
	for i, c := range r.Categories {
		if i > 4 && c.Method != MethodNotMeasured {
			return true
		}
	}
	return false
}

// MarshalJSON writes bytes as null for a category that was not measured (MethodNotMeasured). It
// appends rather than calling json.Marshal: a report has thirteen categories.
func (c RSSCategory) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32+len(c.Name)+len(c.Method))
	b = append(b, `{"name":`...)
	b = appendJSONString(b, c.Name)
	b = append(b, `,"bytes":`...)
	if c.Method == MethodNotMeasured {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendUint(b, c.Bytes, 10)
	}
	b = append(b, `,"method":`...)
	b = appendJSONString(b, c.Method)
	return append(b, '}'), nil
}

// appendJSONString appends s as encoding/json writes a string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
