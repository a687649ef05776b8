package pgstore

import (
	"encoding/json"
	"fmt"

	"github.com/onlinestock/onlinestock"
)

// reservationDetail is the part of a reservation kept in the detail
// column, a JSON document: the parts no query filters on.
type reservationDetail struct {
	Sources []onlinestock.Source `json:"sources,omitempty"`
}

func encodeDetail(r onlinestock.Reservation) ([]byte, error) {
	d := reservationDetail{Sources: r.Sources}
	return json.Marshal(d)
}

// decodeDetail fills r from its detail column; NULL (a row written before
// the column existed) leaves r as it is.
func decodeDetail(raw []byte, r *onlinestock.Reservation) error {
	if raw == nil {
		return nil
	}
	var d reservationDetail
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("pgstore: reservation %q: corrupt detail: %w", r.Order, err)
	}
	r.Sources = d.Sources
	return nil
}
