package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinestock/onlinestock"
)

func testSmoke(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	svc, err := onlinestock.New(newStore(t), onlinestock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SaveOutlet(ctx, "a", "A"); err != nil {
		t.Fatal(err)
	}
	if err := svc.SaveRegister(ctx, "r", "a", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Activate(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Apply(ctx, []onlinestock.Change{onlinestock.Set("p", "a", 3)}); err != nil {
		t.Fatal(err)
	}
	if err := svc.EnableOnline(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Availability(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	want := []onlinestock.Availability{{Quantity: 3, Label: onlinestock.InStock}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Availability() mismatch (-want +got):\n%s", diff)
	}
}
