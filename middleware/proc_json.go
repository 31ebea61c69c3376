package middleware

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/memdiag/memdiag/procself"
)

// snakeJSON is a procself value as /proc serves it: procself's types carry Go field names and no
// JSON tags (they are procself's to change), so /proc writes them itself — keys snake_case
// ("VmRSSBytes" → "vm_rss_bytes", "UIDs" → "uids"), durations in seconds under a "_seconds" key,
// errors as their text, the rest as encoding/json would. The field order is the type's.
type snakeJSON struct{ v any }

func (s snakeJSON) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := writeSnake(&buf, reflect.ValueOf(s.v)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
	errorType    = reflect.TypeFor[error]()
	limitsType   = reflect.TypeFor[procself.Limits]()
)

func writeSnake(buf *bytes.Buffer, v reflect.Value) error {
	if !v.IsValid() {
		buf.WriteString("null")
		return nil
	}
	t := v.Type()
	switch {
	case t == durationType:
		return writeJSONValue(buf, time.Duration(v.Int()).Seconds())
	case t == timeType:
		return writeJSONValue(buf, v.Interface())
	case t == limitsType:
		return writeJSONValue(buf, limitsView(v.Interface().(procself.Limits)))
	case t.Implements(errorType):
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		return writeJSONValue(buf, v.Interface().(error).Error())
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		return writeSnake(buf, v.Elem())
	case reflect.Struct:
		buf.WriteByte('{')
		first := true
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			key := snakeCase(f.Name)
			if f.Type == durationType && !strings.HasSuffix(key, "_seconds") {
				key += "_seconds"
			}
			writeJSONValue(buf, key)
			buf.WriteByte(':')
			if err := writeSnake(buf, v.Field(i)); err != nil {
				return fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
			}
		}
		buf.WriteByte('}')
		return nil
	case reflect.Slice:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		fallthrough
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return writeJSONValue(buf, v.Interface())
		}
		buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeSnake(buf, v.Index(i)); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	// Maps keep their keys (data, not field names); scalars are as encoding/json writes them.
	return writeJSONValue(buf, v.Interface())
}

func writeJSONValue(buf *bytes.Buffer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}

// snakeCase turns a Go field name into snake_case: a word starts at a capital after a lower-case
// letter or digit, and at the last capital of a run followed by lower case ("RSSBytes" → "rss",
// "bytes"), except for a plural's s ("UIDs" → "uids", "CPUsAllowed" → "cpus", "allowed").
func snakeCase(name string) string {
	r := []rune(name)
	var sb strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			plural := i+1 < len(r) && r[i+1] == 's' && (i+2 == len(r) || unicode.IsUpper(r[i+2]))
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower && !plural) {
				sb.WriteByte('_')
			}
		}
		sb.WriteRune(unicode.ToLower(c))
	}
	return sb.String()
}

// limitView is one resource limit: the soft and hard values under keys that carry the limit's
// unit ("soft_bytes", "hard_seconds", "soft_files"), null when unlimited.
type limitView map[string]*uint64

// limitsView is /proc/self/limits with every limit under its snake_case name.
func limitsView(l procself.Limits) map[string]limitView {
	out := map[string]limitView{}
	v := reflect.ValueOf(l)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		lim, ok := v.Field(i).Interface().(procself.Limit)
		if !ok {
			continue
		}
		unit := limitUnit(lim.Unit)
		view := limitView{"soft_" + unit: nil, "hard_" + unit: nil}
		if !lim.SoftUnlimited {
			view["soft_"+unit] = &lim.Soft
		}
		if !lim.HardUnlimited {
			view["hard_"+unit] = &lim.Hard
		}
		out[snakeCase(f.Name)] = view
	}
	return out
}

// limitUnit is the key suffix for a limits unit column: "bytes", "seconds", "microseconds", or the
// counted thing ("processes", "files", "locks", "signals"); "priority" when the kernel gives none
// (the nice and real-time priority ceilings).
func limitUnit(u string) string {
	switch u = strings.ToLower(strings.TrimSpace(u)); u {
	case "":
		return "priority"
	case "us":
		return "microseconds"
	}
	return snakeCase(strings.ReplaceAll(u, " ", "_"))
}
