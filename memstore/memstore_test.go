package memstore_test

import (
	"testing"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/memstore"
	"github.com/onlinestock/onlinestock/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) onlinestock.Store { return memstore.New() })
}
