package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decode reads the request body, one JSON object, into v. The body must be
// application/json, at most Config.MaxBodyBytes, sent within
// Config.BodyTimeout, and hold exactly one value whose fields v knows.
func (c *call) decode(v any) error {
	// Strict, so that a page on another site cannot send a body without
	// the browser asking first (a CORS preflight).
	ct := c.r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
			Detail: fmt.Sprintf("Content-Type %q: send application/json", ct)}
	}
	rc := http.NewResponseController(c.w)
	// Not every ResponseWriter supports deadlines (httptest's recorder does
	// not); the Server's own timeouts then apply.
	_ = rc.SetReadDeadline(time.Now().Add(c.h.cfg.BodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, c.h.cfg.MaxBodyBytes))
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
				Detail: fmt.Sprintf("the body is larger than %d bytes", c.h.cfg.MaxBodyBytes)}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return &Error{Status: http.StatusRequestTimeout, Code: CodeBodyTimeout,
				Detail: fmt.Sprintf("the body took longer than %v to arrive", c.h.cfg.BodyTimeout)}
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Detail: "reading the body: " + err.Error()}
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes body, exactly one JSON value with no unknown fields,
// into v. Its errors are *Error, status 400, naming the field when one is
// at fault.
func decodeJSON(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := d.Token(); err != io.EOF {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Detail: "the body holds more than one JSON value"}
	}
	return nil
}

func jsonError(err error) *Error {
	p := &Error{Status: http.StatusBadRequest, Code: CodeInvalid}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var when *time.ParseError
	switch {
	case errors.Is(err, io.EOF):
		p.Detail = "the body is empty: send a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		p.Detail = "the body ends in the middle of a JSON value"
	case errors.As(err, &syntax):
		p.Detail = fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ):
		p.Field = typ.Field
		if p.Field == "" {
			p.Detail = fmt.Sprintf("the body is a JSON %s, not an object", typ.Value)
		} else {
			p.Detail = fmt.Sprintf("%s: a JSON %s, not %s", p.Field, typ.Value, typeName(typ.Type))
		}
	case errors.As(err, &when):
		// time.Time decodes itself, and encoding/json does not say which
		// field it was.
		p.Detail = fmt.Sprintf("%q is not an RFC 3339 time, such as 2026-03-01T09:30:00Z", when.Value)
		if reason := strings.TrimPrefix(when.Message, ": "); reason != "" {
			p.Detail += ": " + reason
		}
	case strings.HasPrefix(err.Error(), "Time.UnmarshalJSON: "):
		p.Detail = "a time is a JSON string, such as \"2026-03-01T09:30:00Z\""
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		p.Field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		p.Detail = fmt.Sprintf("unknown field %q", p.Field)
	default:
		// An UnmarshalText error, such as an unknown change kind: it names
		// its field.
		p.Detail = err.Error()
	}
	return p
}

// typeName says what a Go type is in JSON terms. A type that decodes
// itself from text, such as a change kind or a time, is a JSON string.
func typeName(t reflect.Type) string {
	if t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// queryInt reads an optional non-negative integer query parameter of q.
func (c *call) queryInt(q url.Values, name string, def uint64) (uint64, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: name,
			Detail: fmt.Sprintf("%s: %q is not a non-negative integer", name, s)}
	}
	return n, nil
}

// query returns the query parameters of a listing, each of which must be
// one of known, given once and not empty: a misspelt or empty filter is a
// 400, never a wider listing than was meant.
func (c *call) query(known ...string) (url.Values, error) {
	q, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Detail: "malformed query: " + err.Error()}
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		switch vs := q[name]; {
		case !slices.Contains(known, name):
			return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: name,
				Detail: fmt.Sprintf("unknown query parameter %q: known are %s", name, strings.Join(known, ", "))}
		case len(vs) > 1:
			return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: name,
				Detail: fmt.Sprintf("%s: given %d times, give it once", name, len(vs))}
		case vs[0] == "":
			return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: name,
				Detail: fmt.Sprintf("%s: empty: leave it out instead", name)}
		}
	}
	return q, nil
}

// queryTime reads an optional RFC 3339 time query parameter; the zero time
// when it is absent.
func (c *call) queryTime(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		hint := ""
		if strings.Contains(s, " ") {
			hint = " (a + in a query is a space: send it as %2B)"
		}
		return time.Time{}, &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: name,
			Detail: fmt.Sprintf("%s: %q is not an RFC 3339 time, such as 2026-03-01T09:30:00Z%s", name, s, hint)}
	}
	return t, nil
}

// reply answers v as JSON with status.
func (c *call) reply(status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.w.Header().Set("Content-Type", "application/json")
	c.w.Header().Set("X-Content-Type-Options", "nosniff")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(append(body, '\n')) // a client gone away is not an error to answer
	return nil
}

// ok answers v as JSON with 200.
func (c *call) ok(v any) error { return c.reply(http.StatusOK, v) }

// done answers 204 No Content.
func (c *call) done() error {
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
