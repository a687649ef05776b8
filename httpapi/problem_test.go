package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/onlinestock/onlinestock"
)

// TestProblemOfEachSentinel checks the status and code of every sentinel,
// wrapped as the library and the stores wrap them.
func TestProblemOfEachSentinel(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{onlinestock.ErrInvalid, http.StatusBadRequest, CodeInvalid},
		{onlinestock.ErrNotFound, http.StatusNotFound, CodeNotFound},
		{onlinestock.ErrConflict, http.StatusConflict, CodeConflict},
		{onlinestock.ErrInsufficientStock, http.StatusConflict, CodeInsufficientStock},
		{&onlinestock.InsufficientStockError{Shortfalls: []onlinestock.Shortfall{{Product: "tee", Requested: 2, Available: 1}}}, http.StatusConflict, CodeInsufficientStock},
		{onlinestock.ErrPrimaryOutlet, http.StatusConflict, CodePrimaryOutlet},
		{onlinestock.ErrNotActive, http.StatusServiceUnavailable, CodeNotActive},
		{onlinestock.ErrCommitUnknown, http.StatusInternalServerError, CodeCommitUnknown},
		{context.DeadlineExceeded, http.StatusServiceUnavailable, CodeTimeout},
		{errors.New("disk on fire"), http.StatusInternalServerError, CodeInternal},
	}
	for _, tt := range tests {
		p := problem(fmt.Errorf("pgstore: wrapped: %w", tt.err))
		if p.Status != tt.status || p.Code != tt.code {
			t.Errorf("problem(%v) = %d %s, want %d %s", tt.err, p.Status, p.Code, tt.status, tt.code)
		}
	}
	if p := problem(errors.New("secret internals")); p.Detail != "internal error" {
		t.Errorf("an internal error's detail is sent: %q", p.Detail)
	}
}
