package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// The OpenAPI document is the contract of every request: the handler
// reads from it each operation's query parameters and the schema of its
// body, so that a field the document marks required is required, and
// what it does not list is refused.

// schema is the part of a JSON Schema (as OpenAPI 3.1 writes one) that a
// request is checked against before it is decoded: types, required and
// unknown members, items. Ranges, lengths and enumerations are left to
// the library's own validation, which names the field too.
type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 json.RawMessage    `json:"type"` // a type or a list of types
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties *bool              `json:"additionalProperties"`
	Items                *schema            `json:"items"`

	types []string // Type, read
}

// parameter is a query parameter of an operation.
type parameter struct {
	Name     string  `json:"name"`
	In       string  `json:"in"`
	Required bool    `json:"required"`
	Schema   *schema `json:"schema"`
}

// operationSpec is what the handler reads of an operation in the document.
type operationSpec struct {
	query map[string]parameter // by name
	body  *schema              // nil when it takes no body
}

// contract is the document as the handler reads it.
var contract = readContract(OpenAPI)

type document struct {
	Paths map[string]map[string]struct {
		OperationID string      `json:"operationId"`
		Parameters  []parameter `json:"parameters"`
		RequestBody *struct {
			Content map[string]struct {
				Schema *schema `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]*schema `json:"schemas"`
	} `json:"components"`
}

// readContract reads the operations of the document by operationId. The
// document is part of the build: a fault in it is a programming error.
func readContract(doc []byte) map[string]operationSpec {
	var d document
	if err := json.Unmarshal(doc, &d); err != nil {
		panic("httpapi: the OpenAPI document: " + err.Error())
	}
	var resolve func(s *schema)
	resolve = func(s *schema) {
		if s == nil || s.types != nil {
			return
		}
		s.types = []string{}
		if len(s.Type) > 0 {
			var one string
			if json.Unmarshal(s.Type, &one) == nil {
				s.types = []string{one}
			} else if err := json.Unmarshal(s.Type, &s.types); err != nil {
				panic("httpapi: the OpenAPI document: type " + string(s.Type))
			}
		}
		for _, p := range s.Properties {
			resolve(p)
		}
		resolve(s.Items)
	}
	for _, s := range d.Components.Schemas {
		resolve(s)
	}
	ops := map[string]operationSpec{}
	for _, methods := range d.Paths {
		for _, op := range methods {
			spec := operationSpec{query: map[string]parameter{}}
			for _, p := range op.Parameters {
				if p.In == "query" {
					resolve(p.Schema)
					spec.query[p.Name] = p
				}
			}
			if op.RequestBody != nil {
				spec.body = op.RequestBody.Content["application/json"].Schema
				resolve(spec.body)
			}
			ops[op.OperationID] = spec
		}
	}
	contractSchemas = d.Components.Schemas
	return ops
}

// contractSchemas are the document's components, for $ref.
var contractSchemas map[string]*schema

func (s *schema) deref() *schema {
	for s != nil && s.Ref != "" {
		s = contractSchemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	return s
}

func (s *schema) allows(t string) bool {
	for _, have := range s.types {
		if have == t || (have == "number" && t == "integer") {
			return true
		}
	}
	return len(s.types) == 0
}

// typeWords says what the schema's types are, for a message.
func (s *schema) typeWords() string {
	words := make([]string, len(s.types))
	for i, t := range s.types {
		switch t {
		case "object", "array", "integer":
			words[i] = "an " + t
		case "null":
			words[i] = "null"
		case "boolean":
			words[i] = "true or false"
		default:
			words[i] = "a " + t
		}
	}
	return strings.Join(words, " or ")
}

// fieldPath is the path of a value in a body, as a problem's field spells
// it: changes[0].quantity.
type fieldPath []string

func (p fieldPath) member(name string) fieldPath { return append(p[:len(p):len(p)], "."+name) }
func (p fieldPath) index(i int) fieldPath {
	return append(p[:len(p):len(p)], "["+strconv.Itoa(i)+"]")
}

func (p fieldPath) String() string {
	return strings.TrimPrefix(strings.Join(p, ""), ".")
}

// checkBody reads body, which must be exactly one JSON value, against s:
// every required member present and not null, no member s does not list,
// each value of a type s allows. The reader refuses duplicate member
// names, invalid UTF-8 and lone surrogates. Its errors are *Error, status
// 400, naming the field at fault.
func checkBody(body []byte, s *schema) error {
	d := jsontext.NewDecoder(strings.NewReader(string(body)))
	if err := check(d, s.deref(), nil); err != nil {
		return err
	}
	if _, err := d.ReadToken(); err != io.EOF {
		if err == nil {
			return invalid("", "the body holds more than one JSON value")
		}
		return syntaxProblem(err)
	}
	return nil
}

func invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// check reads the next value of d against s.
func check(d *jsontext.Decoder, s *schema, path fieldPath) error {
	kind := d.PeekKind()
	switch kind {
	case jsontext.KindBeginObject, jsontext.KindBeginArray, jsontext.KindString, jsontext.KindNumber,
		jsontext.KindTrue, jsontext.KindFalse, jsontext.KindNull:
	default:
		_, err := d.ReadValue()
		if path == nil && err == io.EOF {
			return invalid("", "the body is empty: send a JSON object")
		}
		return syntaxProblem(err)
	}
	t := jsonType(kind)
	if t == "number" || t == "integer" {
		v, err := d.ReadValue()
		if err != nil {
			return syntaxProblem(err)
		}
		if !strings.ContainsAny(string(v), ".eE") {
			t = "integer"
		}
		if !s.allows(t) {
			return wrongType(path, s, t)
		}
		return nil
	}
	if !s.allows(t) {
		return wrongType(path, s, t)
	}
	switch kind {
	case jsontext.KindBeginObject:
		if _, err := d.ReadToken(); err != nil {
			return syntaxProblem(err)
		}
		seen := map[string]bool{}
		for d.PeekKind() != jsontext.KindEndObject {
			tok, err := d.ReadToken()
			if err != nil {
				return syntaxProblem(err)
			}
			name := tok.String()
			prop := s.Properties[name].deref()
			if prop == nil && s.AdditionalProperties != nil && !*s.AdditionalProperties {
				return unknownMember(path, s, name)
			}
			if prop == nil {
				prop = &schema{types: []string{}}
			}
			if err := check(d, prop, path.member(name)); err != nil {
				return err
			}
			seen[name] = true
		}
		if _, err := d.ReadToken(); err != nil {
			return syntaxProblem(err)
		}
		for _, name := range s.Required {
			if !seen[name] {
				field := path.member(name).String()
				return invalid(field, "%s: required", field)
			}
		}
	case jsontext.KindBeginArray:
		if _, err := d.ReadToken(); err != nil {
			return syntaxProblem(err)
		}
		items := s.Items.deref()
		if items == nil {
			items = &schema{types: []string{}}
		}
		for i := 0; d.PeekKind() != jsontext.KindEndArray; i++ {
			if err := check(d, items, path.index(i)); err != nil {
				return err
			}
		}
		if _, err := d.ReadToken(); err != nil {
			return syntaxProblem(err)
		}
	default:
		if _, err := d.ReadValue(); err != nil {
			return syntaxProblem(err)
		}
	}
	return nil
}

func jsonType(k jsontext.Kind) string {
	switch k {
	case jsontext.KindBeginObject:
		return "object"
	case jsontext.KindBeginArray:
		return "array"
	case jsontext.KindString:
		return "string"
	case jsontext.KindNumber:
		return "number"
	case jsontext.KindTrue, jsontext.KindFalse:
		return "boolean"
	}
	return "null"
}

func wrongType(path fieldPath, s *schema, got string) *Error {
	what := map[string]string{"object": "an object", "array": "an array", "string": "a string",
		"number": "a number with a fraction or an exponent", "integer": "an integer", "boolean": "true or false", "null": "null"}[got]
	if path == nil {
		return invalid("", "the body is %s, not %s", what, s.typeWords())
	}
	field := path.String()
	if got == "null" {
		return invalid(field, "%s: null: send %s, or leave out a field that is not required", field, s.typeWords())
	}
	return invalid(field, "%s: %s, not %s", field, what, s.typeWords())
}

func unknownMember(path fieldPath, s *schema, name string) *Error {
	field := path.member(name).String()
	for known := range s.Properties {
		if strings.EqualFold(known, name) {
			return invalid(field, "unknown field %q: names are case-sensitive: send %q", field, path.member(known).String())
		}
	}
	return invalid(field, "unknown field %q", field)
}

// syntaxProblem maps an error of the JSON reader.
func syntaxProblem(err error) *Error {
	var syn *jsontext.SyntacticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalid("", "the body ends in the middle of a JSON value")
	case errors.As(err, &syn):
		field := pointerField(syn.JSONPointer)
		if errors.Is(err, jsontext.ErrDuplicateName) {
			return invalid(field, "%s: given twice: send each field once", field)
		}
		msg := strings.TrimPrefix(syn.Err.Error(), "jsontext: ")
		if field != "" {
			return invalid(field, "malformed JSON at byte %d, in %s: %s", syn.ByteOffset, field, msg)
		}
		return invalid("", "malformed JSON at byte %d: %s", syn.ByteOffset, msg)
	}
	return invalid("", "malformed JSON: %v", err)
}

// pointerField spells a JSON pointer (/changes/0/quantity) as a field
// path (changes[0].quantity).
func pointerField(p jsontext.Pointer) string {
	var path fieldPath
	for tok := range p.Tokens() {
		if i, err := strconv.Atoi(tok); err == nil && i >= 0 && strconv.Itoa(i) == tok {
			path = path.index(i)
		} else {
			path = path.member(tok)
		}
	}
	return path.String()
}
