package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

type openAPIDoc struct {
	OpenAPI string `json:"openapi"`
	Paths   map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Responses   map[string]json.RawMessage
	} `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPIListsEveryRoute checks the document against the routes the
// Handler serves, both ways, operation IDs included.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	var want, got []string
	for _, rt := range routes {
		want = append(want, strings.ToLower(rt.method)+" "+rt.path+" "+rt.operation)
	}
	want = append(want, "get /v1/openapi.json getOpenAPI")
	for path, ops := range doc.Paths {
		for method, op := range ops {
			got = append(got, method+" "+path+" "+op.OperationID)
			if _, ok := op.Responses["500"]; !ok && op.OperationID != "getOpenAPI" {
				t.Errorf("%s %s: no 500 response listed", method, path)
			}
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OpenAPI operations mismatch with the routes (-routes +document):\n%s", diff)
	}
}

// TestOpenAPISchemas checks that each schema names exactly the JSON fields
// of the Go type sent or read for it.
func TestOpenAPISchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	types := map[string]any{
		"Availability": onlinestock.Availability{}, "ProductAvailability": ProductAvailability{},
		"AvailabilityPage": AvailabilityPage{}, "Level": onlinestock.Level{}, "Levels": Levels{},
		"Change": onlinestock.Change{}, "Changes": Changes{}, "ChangeResult": onlinestock.ChangeResult{},
		"ChangeResults": ChangeResults{}, "Products": Products{}, "Line": onlinestock.Line{},
		"Cart": onlinestock.Cart{}, "Shortfall": onlinestock.Shortfall{}, "ProductQuote": onlinestock.ProductQuote{},
		"Method": onlinestock.Method{}, "Methods": Methods{}, "MethodQuote": onlinestock.MethodQuote{},
		"Quote": onlinestock.Quote{}, "Order": onlinestock.Order{}, "Allocation": onlinestock.Allocation{},
		"Reservation": onlinestock.Reservation{}, "Orders": Orders{}, "Event": onlinestock.Event{},
		"Events": Events{}, "Outlet": onlinestock.Outlet{}, "Register": onlinestock.Register{},
		"Setup": onlinestock.Setup{}, "AvailabilityChange": onlinestock.AvailabilityChange{},
		"SelectionResult": onlinestock.SelectionResult{}, "Name": Name{}, "RegisterBody": RegisterBody{},
		"Activation": Activation{}, "Buffer": Buffer{}, "Rank": Rank{}, "Selection": Selection{},
		"Problem": Error{}, "Source": onlinestock.Source{}, "PartRecord": onlinestock.PartRecord{},
		"Part": onlinestock.Part{}, "Amendment": Amendment{}, "Reservations": Reservations{},
	}
	for name, schema := range doc.Components.Schemas {
		v, ok := types[name]
		if !ok {
			t.Errorf("schema %s: no Go type known for it", name)
			continue
		}
		var props []string
		for p := range schema.Properties {
			props = append(props, p)
		}
		sort.Strings(props)
		if diff := cmp.Diff(jsonFields(reflect.TypeOf(v)), props); diff != "" {
			t.Errorf("schema %s mismatch with its Go type's JSON fields (-Go +schema):\n%s", name, diff)
		}
		for _, r := range schema.Required {
			if !slices.Contains(props, r) {
				t.Errorf("schema %s requires %q, which it does not list", name, r)
			}
		}
	}
	for name := range types {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("type for schema %s, but no such schema", name)
		}
	}
}

// jsonFields lists the JSON names of a struct's fields, embedded structs
// flattened, sorted.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIIsServed(t *testing.T) {
	h, err := New(must(onlinestock.New(memstore.New(), onlinestock.Config{})), Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || !json.Valid(rec.Body.Bytes()) {
		t.Errorf("GET /v1/openapi.json: %d %q, valid JSON %v", rec.Code, rec.Header().Get("Content-Type"), json.Valid(rec.Body.Bytes()))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
