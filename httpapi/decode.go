package httpapi

import (
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
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// decode reads the request body, one JSON object, into v. The body must be
// application/json, at most Config.MaxBodyBytes, sent within
// Config.BodyTimeout, and hold exactly one value that the operation's
// schema in the OpenAPI document allows: every required field present and
// not null, no field it does not list, no name given twice or in another
// case, valid UTF-8 only.
func (c *call) decode(v any) error {
	// Strict, so that a page on another site cannot send a body without
	// the browser asking first (a CORS preflight).
	ct := c.r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
			Detail: fmt.Sprintf("Content-Type %q: send application/json", ct)}
	}
	body, err := c.readBody()
	if err != nil {
		return err
	}
	s := contract[c.rt.operation].body
	if s == nil {
		return fmt.Errorf("httpapi: %s reads a body the OpenAPI document does not describe", c.rt.operation)
	}
	return decodeJSON(body, s, v)
}

// readBody reads the whole body within Config.BodyTimeout. A body that
// stalls is a 408 and one too large a 413, and either way the connection
// is closed after the answer: what is left of the body is never waited
// for.
func (c *call) readBody() ([]byte, error) {
	rc := http.NewResponseController(c.w)
	// Not every ResponseWriter supports deadlines (httptest's recorder
	// does not); the Server's own timeouts then apply.
	deadline := rc.SetReadDeadline(time.Now().Add(c.h.cfg.BodyTimeout)) == nil
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, c.h.cfg.MaxBodyBytes))
	if err != nil {
		// The deadline stays: net/http then gives up on the rest of the
		// body at once instead of waiting to drain it.
		if errors.As(err, new(*http.MaxBytesError)) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Limit: c.h.cfg.MaxBodyBytes,
				Detail: fmt.Sprintf("the body is larger than %d bytes", c.h.cfg.MaxBodyBytes)}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, &Error{Status: http.StatusRequestTimeout, Code: CodeBodyTimeout,
				Detail: fmt.Sprintf("the body took longer than %v to arrive", c.h.cfg.BodyTimeout)}
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Detail: "reading the body: " + err.Error()}
	}
	c.bodyRead = true
	if deadline {
		_ = rc.SetReadDeadline(time.Time{})
	}
	return body, nil
}

// strict is how bodies are decoded once checked against their schema:
// names match exactly, and a name given twice, an unknown name or invalid
// UTF-8 is refused.
var strict = jsonv2.JoinOptions(jsonv2.RejectUnknownMembers(true), jsonv2.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false), jsontext.AllowInvalidUTF8(false))

// decodeJSON checks body against s, then decodes it into v. Its errors
// are *Error, status 400, naming the field at fault.
func decodeJSON(body []byte, s *schema, v any) error {
	if err := checkBody(body, s); err != nil {
		return err
	}
	if err := jsonv2.Unmarshal(body, v, strict); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError maps an error of the decoder of a body its schema allows: a
// value the Go type refuses, such as an integer out of range, an unknown
// change kind or a malformed time.
func jsonError(err error) *Error {
	var sem *jsonv2.SemanticError
	if !errors.As(err, &sem) {
		return syntaxProblem(err)
	}
	field := pointerField(sem.JSONPointer)
	p := &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: field}
	var when *time.ParseError
	switch {
	case errors.As(err, &when):
		p.Detail = fmt.Sprintf("%s: %q is not an RFC 3339 time, such as 2026-03-01T09:30:00Z", field, when.Value)
		if reason := strings.TrimPrefix(when.Message, ": "); reason != "" {
			p.Detail += ": " + reason
		}
	case sem.Err != nil && sem.GoType != nil && sem.GoType.Implements(textUnmarshaler) || sem.GoType != nil && reflect.PointerTo(sem.GoType).Implements(textUnmarshaler):
		// An UnmarshalText error, such as an unknown change kind: it
		// names its field.
		p.Detail = field + ": " + strings.TrimPrefix(errText(sem.Err), pointerLast(sem.JSONPointer)+": ")
	case sem.GoType != nil:
		p.Detail = fmt.Sprintf("%s: %s is not %s", field, sem.JSONValue, typeName(sem.GoType))
		if sem.Err != nil {
			p.Detail += " (" + errText(sem.Err) + ")"
		}
	default:
		p.Detail = field + ": " + errText(err)
	}
	return p
}

// errText is an error's message without the decoder's package prefix.
func errText(err error) string {
	if err == nil {
		return "invalid"
	}
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "json: "), "jsontext: ")
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

// query reads the query of the call against the operation's parameters
// in the OpenAPI document: each must be one it lists, given once unless
// it is a list, not empty and valid UTF-8, and the required ones given. A
// misspelt or empty filter is a 400, never a wider listing than was
// meant.
func (c *call) query() (url.Values, error) {
	q, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil {
		return nil, invalid("", "malformed query: %v", err)
	}
	params := contract[c.rt.operation].query
	known := slices.Sorted(maps.Keys(params))
	for _, name := range slices.Sorted(maps.Keys(q)) {
		p, ok := params[name]
		vs := q[name]
		switch {
		case !utf8.ValidString(name):
			return nil, invalid("", "a query parameter's name is not valid UTF-8")
		case !ok && len(known) == 0:
			return nil, invalid(name, "unknown query parameter %q: this operation takes none", name)
		case !ok:
			return nil, invalid(name, "unknown query parameter %q: known are %s", name, strings.Join(known, ", "))
		case len(vs) > 1 && !p.Schema.deref().allows("array"):
			return nil, invalid(name, "%s: given %d times, give it once", name, len(vs))
		}
		for _, v := range vs {
			if v == "" {
				return nil, invalid(name, "%s: empty: leave it out instead", name)
			}
			if !utf8.ValidString(v) {
				return nil, invalid(name, "%s: not valid UTF-8", name)
			}
		}
	}
	for _, name := range known {
		if params[name].Required && len(q[name]) == 0 {
			return nil, invalid(name, "%s: required", name)
		}
	}
	return q, nil
}

// pageLimit reads the limit parameter of a listing: from 1 to the least of
// Config.MaxPage and most, the library's own bound; def (or that least,
// when smaller) when it is absent.
func (c *call) pageLimit(q url.Values, def, most int) (int, error) {
	most = min(most, c.h.cfg.MaxPage)
	n, err := c.queryInt(q, "limit", uint64(min(def, most)))
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, invalid("limit", "limit: from 1 to %d", most)
	}
	if n > uint64(most) {
		return 0, overLimit("limit", int64(most), "limit: %d, more than the %d one page may hold", n, most)
	}
	return int(n), nil
}

// overLimit is a request over one of the limits of a request.
func overLimit(field string, limit int64, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeOverLimit, Field: field, Limit: limit, Detail: fmt.Sprintf(format, args...)}
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
	c.startAnswer()
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
	c.startAnswer()
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// startAnswer readies the answer: the client has Config.WriteTimeout to
// read it, after which the answer is abandoned and the connection closed;
// and a body the operation did not read to its end closes the connection
// after the answer, so that net/http never waits to drain it.
func (c *call) startAnswer() {
	_ = http.NewResponseController(c.w).SetWriteDeadline(time.Now().Add(c.h.cfg.WriteTimeout))
	if !c.bodyRead {
		abandonBody(c.w, c.r)
	}
}

// abandonBody makes sure that what is left of a body the handler did not
// read is never waited for: net/http reads up to 256 KiB of it after the
// handler returns, to reuse the connection, and a client that stalls
// would hold the connection and its goroutine for as long as it likes.
// The connection is closed after the answer instead.
func abandonBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 {
		return
	}
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

// pointerLast is the last name of a JSON pointer.
func pointerLast(p jsontext.Pointer) string { return p.LastToken() }
