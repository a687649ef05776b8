package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

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
			Type       string                     `json:"type"`
			Enum       []string                   `json:"enum"`
			MaxLength  int                        `json:"maxLength"`
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
		"Quote": onlinestock.Quote{}, "Order": Order{}, "Allocation": onlinestock.Allocation{},
		"Reservation": onlinestock.Reservation{}, "Orders": Orders{}, "Event": onlinestock.Event{},
		"Events": Events{}, "Outlet": onlinestock.Outlet{}, "Register": onlinestock.Register{},
		"Setup": onlinestock.Setup{}, "AvailabilityChange": onlinestock.AvailabilityChange{},
		"SelectionResult": onlinestock.SelectionResult{}, "Name": Name{}, "RegisterBody": RegisterBody{},
		"Activation": Activation{}, "Buffer": Buffer{}, "Rank": Rank{}, "Selection": Selection{},
		"Problem": Error{}, "Source": onlinestock.Source{}, "PartRecord": onlinestock.PartRecord{},
		"Part": onlinestock.Part{}, "Amendment": Amendment{}, "Reservations": Reservations{},
		"Movement": onlinestock.Movement{}, "Movements": Movements{},
		"MovementKind": onlinestock.MovedBySet, "StockReason": onlinestock.StockSale,
		"Component": onlinestock.Component{}, "Bundle": onlinestock.Bundle{}, "Bundles": Bundles{},
		"Backorder": onlinestock.Backorder{}, "Backorders": Backorders{},
	}
	for name, schema := range doc.Components.Schemas {
		v, ok := types[name]
		if !ok {
			t.Errorf("schema %s: no Go type known for it", name)
			continue
		}
		if reflect.TypeOf(v).Kind() == reflect.String {
			if schema.Type != "string" || len(schema.Properties) != 0 {
				t.Errorf("schema %s: type %q with properties %v, want a string, as its Go type is", name, schema.Type, schema.Properties)
			}
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

// TestOpenAPIEnums checks the schemas of the library's named strings
// against its constants.
func TestOpenAPIEnums(t *testing.T) {
	doc := loadOpenAPI(t)
	kinds := []onlinestock.MovementKind{onlinestock.MovedBySet, onlinestock.MovedByAdjust, onlinestock.MovedByReserve,
		onlinestock.MovedByRelease, onlinestock.MovedByFulfil, onlinestock.MovedByExpiry}
	var want []string
	for _, k := range kinds {
		want = append(want, string(k))
	}
	if diff := cmp.Diff(want, doc.Components.Schemas["MovementKind"].Enum); diff != "" {
		t.Errorf("schema MovementKind's enum mismatch with the MovementKind constants (-Go +schema):\n%s", diff)
	}
	if got := doc.Components.Schemas["StockReason"].MaxLength; got != onlinestock.MaxReasonBytes {
		t.Errorf("schema StockReason's maxLength %d, want MaxReasonBytes, %d", got, onlinestock.MaxReasonBytes)
	}
	for _, p := range []struct {
		schema, property, member string
		want                     int64
	}{
		{"Bundle", "components", "maxItems", onlinestock.MaxComponents},
		{"Component", "quantity", "maximum", onlinestock.MaxComponentQuantity},
		{"Backorder", "limit", "maximum", onlinestock.MaxOnHand},
	} {
		var prop map[string]any
		if err := json.Unmarshal(doc.Components.Schemas[p.schema].Properties[p.property], &prop); err != nil {
			t.Fatal(err)
		}
		if got, _ := prop[p.member].(float64); int64(got) != p.want {
			t.Errorf("schema %s, property %s: %s %v, want %d", p.schema, p.property, p.member, prop[p.member], p.want)
		}
	}
	for _, p := range []struct{ schema, property, ref string }{
		{"Movement", "kind", "MovementKind"},
		{"Movement", "reason", "StockReason"},
		{"Change", "reason", "StockReason"},
	} {
		var prop struct {
			Ref string `json:"$ref"`
		}
		if err := json.Unmarshal(doc.Components.Schemas[p.schema].Properties[p.property], &prop); err != nil {
			t.Fatal(err)
		}
		if prop.Ref != "#/components/schemas/"+p.ref {
			t.Errorf("schema %s, property %s: $ref %q, want the %s schema", p.schema, p.property, prop.Ref, p.ref)
		}
	}
}

// TestOpenAPIRefsResolve checks that every $ref of the document names a
// component it defines.
func TestOpenAPIRefsResolve(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	components := doc["components"].(map[string]any)
	refs := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if k != "$ref" {
					walk(path+"/"+k, child)
					continue
				}
				refs++
				ref, _ := child.(string)
				kind, name, ok := strings.Cut(strings.TrimPrefix(ref, "#/components/"), "/")
				section, _ := components[kind].(map[string]any)
				if _, found := section[name]; !ok || !found {
					t.Errorf("%s: $ref %q names no component", path, ref)
				}
			}
		case []any:
			for i, child := range v {
				walk(path+"/"+strconv.Itoa(i), child)
			}
		}
	}
	walk("#", doc)
	if refs == 0 {
		t.Error("the document has no $ref")
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

// TestOpenAPISecurity checks that the document states, for every
// operation, the roles that may call it (x-roles, and in words in its
// description), the statuses every operation can answer, and that only
// the document itself is open to anyone.
func TestOpenAPISecurity(t *testing.T) {
	var doc struct {
		Security   []map[string][]string `json:"security"`
		Servers    []map[string]string   `json:"servers"`
		Components struct {
			SecuritySchemes map[string]struct {
				Type, Scheme string
			} `json:"securitySchemes"`
		} `json:"components"`
		Paths map[string]map[string]struct {
			OperationID string                     `json:"operationId"`
			Description string                     `json:"description"`
			Roles       []Role                     `json:"x-roles"`
			Security    *[]map[string][]string     `json:"security"`
			Responses   map[string]json.RawMessage `json:"responses"`
			RequestBody json.RawMessage            `json:"requestBody"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if s := doc.Components.SecuritySchemes["apiKey"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("securitySchemes.apiKey %+v, want http bearer", s)
	}
	if diff := cmp.Diff([]map[string][]string{{"apiKey": {}}}, doc.Security); diff != "" {
		t.Errorf("security mismatch (-want +got):\n%s", diff)
	}
	if len(doc.Servers) == 0 {
		t.Error("no servers")
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			name := method + " " + path
			if op.OperationID == "getOpenAPI" {
				if op.Security == nil || len(*op.Security) != 0 {
					t.Errorf("%s: security %v, want [] (open to anyone)", name, op.Security)
				}
				continue
			}
			if op.Security != nil {
				t.Errorf("%s: security of its own, %v", name, *op.Security)
			}
			if diff := cmp.Diff(Roles(op.OperationID), op.Roles); diff != "" {
				t.Errorf("%s: x-roles mismatch with the routes (-routes +document):\n%s", name, diff)
			}
			if words := "Roles: " + roleWords(op.Roles) + "."; !strings.HasSuffix(op.Description, words) {
				t.Errorf("%s: description %q does not end with %q", name, op.Description, words)
			}
			want := []string{"400", "401", "403", "404", "500", "503"}
			if method != "get" {
				want = append(want, "409")
			}
			if op.RequestBody != nil {
				want = append(want, "408", "413", "415")
			}
			for _, status := range want {
				if _, ok := op.Responses[status]; !ok {
					t.Errorf("%s: no %s response listed", name, status)
				}
			}
		}
	}
}

func roleWords(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// TestOpenAPILimits checks the limits the document states against the
// handler's defaults and the library's bounds.
func TestOpenAPILimits(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	at := func(path ...string) any {
		var v any = doc
		for _, p := range path {
			switch c := v.(type) {
			case map[string]any:
				v = c[p]
			case []any:
				i, _ := strconv.Atoi(p)
				v = c[i]
			}
		}
		return v
	}
	param := func(path, method, name string) map[string]any {
		for _, p := range at("paths", path, method, "parameters").([]any) {
			if p := p.(map[string]any); p["name"] == name {
				return p["schema"].(map[string]any)
			}
		}
		t.Fatalf("%s %s: no parameter %s", method, path, name)
		return nil
	}
	for _, tt := range []struct {
		name string
		got  any
		want int64
	}{
		{"availability: products", param("/v1/availability", "get", "product")["maxItems"], DefaultMaxPage},
		{"reservations: limit", param("/v1/reservations", "get", "limit")["maximum"], min(DefaultMaxPage, onlinestock.MaxReservationsPage)},
		{"movements: limit", param("/v1/movements", "get", "limit")["maximum"], min(DefaultMaxPage, onlinestock.MaxMovementPage)},
		{"events: limit", param("/v1/events", "get", "limit")["maximum"], min(DefaultMaxPage, MaxEventsPage)},
		{"cart lines", at("components", "schemas", "Cart", "properties", "lines", "maxItems"), DefaultMaxLines},
		{"order lines", at("components", "schemas", "Order", "properties", "lines", "maxItems"), DefaultMaxLines},
		{"amended lines", at("components", "schemas", "Amendment", "properties", "lines", "maxItems"), DefaultMaxLines},
		{"part lines", at("components", "schemas", "Part", "properties", "lines", "maxItems"), DefaultMaxLines},
		{"ttl_seconds", at("components", "schemas", "Order", "properties", "ttl_seconds", "maximum"), MaxTTLSeconds},
	} {
		if got, _ := tt.got.(float64); int64(got) != tt.want {
			t.Errorf("%s: %v in the document, want %d", tt.name, tt.got, tt.want)
		}
	}
	info := at("info", "description").(string)
	for _, limit := range []string{"4 MiB", "10 s (BodyTimeout", "30 s (Timeout", "10 s (WriteTimeout", "128 requests in flight",
		"1000 products", "1000 lines", "100,000"} {
		if !strings.Contains(info, limit) {
			t.Errorf("the document's description does not state %q", limit)
		}
	}
	if DefaultMaxBodyBytes != 4<<20 || DefaultBodyTimeout != 10*time.Second || DefaultTimeout != 30*time.Second ||
		DefaultWriteTimeout != 10*time.Second || DefaultMaxInFlight != 128 || DefaultMaxLineOutlets != 100_000 {
		t.Error("a default changed: state it in the document's description, then here")
	}
}
