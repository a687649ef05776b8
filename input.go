package onlinestock

// The input the library accepts: its limits, and the checks every call
// makes of it before it reads anything. A check's error names the field
// and matches ErrInvalid.

import (
	"fmt"
	"math"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of the input the library accepts: beyond them, input is ErrInvalid.
const (
	MaxIDBytes   = 128       // longest ID, in bytes
	MaxNameBytes = 256       // longest display name, in bytes
	MaxOnHand    = 1e12      // on-hand counts, deltas and buffers lie within ±MaxOnHand
	MaxBatch     = 1_000_000 // most changes in one Apply, lines in one cart, IDs in one call
)

// invalid is the error of bad input in field.
func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", field, fmt.Sprintf(format, args...), ErrInvalid)
}

// checkID validates an identifier: non-empty, at most MaxIDBytes bytes, valid
// UTF-8 and free of control characters.
func checkID(field, id string) error {
	if id == "" {
		return invalid(field, "empty")
	}
	if len(id) > MaxIDBytes {
		return invalid(field, "%d bytes, longer than %d", len(id), MaxIDBytes)
	}
	return checkText(field, id)
}

// checkName validates an optional display name.
func checkName(field, name string) error {
	if len(name) > MaxNameBytes {
		return invalid(field, "%d bytes, longer than %d", len(name), MaxNameBytes)
	}
	return checkText(field, name)
}

func checkText(field, s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return invalid(field, "control character at byte %d", i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return invalid(field, "invalid UTF-8 at byte %d", i)
		}
		if unicode.IsControl(r) {
			return invalid(field, "control character at byte %d", i)
		}
		i += size
	}
	return nil
}

func checkRange(field string, v, lo, hi int64) error {
	if v < lo || v > hi {
		return invalid(field, "%d outside [%d, %d]", v, lo, hi)
	}
	return nil
}

func checkIDs(field string, ids []string) error {
	if len(ids) > MaxBatch {
		return invalid(field, "%d IDs, more than %d", len(ids), MaxBatch)
	}
	for i, id := range ids {
		if err := checkID(field, id); err != nil {
			return fmt.Errorf("%s[%d]: %w", field, i, err)
		}
	}
	return nil
}

// The times a Store is handed lie between minTime and maxTime, the range of
// int64 nanoseconds since 1970: about the years 1678 to 2262. The Service
// rejects a clock or a TTL that would take it outside, so that every Store
// keeps the same times, or refuses the same ones.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// checkTime checks that a Store can keep t.
func checkTime(field string, t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return invalid(field, "%v is outside %v to %v, the times a Store keeps",
			t, minTime.UTC().Format(time.RFC3339Nano), maxTime.UTC().Format(time.RFC3339Nano))
	}
	return nil
}
