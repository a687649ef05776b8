package onlinestock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		store onlinestock.Store
		cfg   onlinestock.Config
	}{
		{"a nil store", nil, onlinestock.Config{}},
		{"a negative low-stock threshold", memstore.New(), onlinestock.Config{LowStockThreshold: -1}},
		{"a low-stock threshold over the on-hand limit", memstore.New(), onlinestock.Config{LowStockThreshold: onlinestock.MaxOnHand + 1}},
		{"a negative key retention", memstore.New(), onlinestock.Config{KeyRetention: -time.Second}},
	}
	for _, tt := range tests {
		t.Run("it refuses "+tt.name, func(t *testing.T) {
			svc, err := onlinestock.New(tt.store, tt.cfg)
			if !errors.Is(err, onlinestock.ErrInvalid) || svc != nil {
				t.Errorf("New() = %v, %v; want nil, ErrInvalid", svc, err)
			}
		})
	}
}
