package pgstore

import (
	"context"

	"github.com/onlinestock/onlinestock"
)

// pageQuery reads every outlet of the tenant and the named products with
// their levels in one statement, so in one snapshot and one round trip,
// with no transaction around it. Part 0 rows are outlets; part 1 rows are
// levels, or a product without levels when outlet is ”.
const pageQuery = `
SELECT 0, o.id, ''::text COLLATE "C", o.name, o.connected, o.buffer, o.rank, false, 0::bigint, 0::bigint, 0::bigint
	FROM onlinestock_outlets o
	WHERE o.tenant = $1
UNION ALL
SELECT 1, p.id, coalesce(l.outlet, ''), '', false, 0, 0, p.enabled, coalesce(l.on_hand, 0), coalesce(l.reserved, 0), coalesce(l.version, 0)
	FROM onlinestock_products p
	LEFT JOIN onlinestock_levels l ON l.tenant = p.tenant AND l.product = p.id
	WHERE p.tenant = $1 AND p.id = ANY($2)
ORDER BY 1, 2, 3`

// ReadPage implements [onlinestock.Store] with a single statement.
func (s *Store) ReadPage(ctx context.Context, ids []string, fn func([]onlinestock.Outlet, []onlinestock.Product) error) error {
	rows, err := s.pool.Query(ctx, pageQuery, s.cfg.Tenant, ids)
	if err != nil {
		return interpretError(ctx, err)
	}
	defer rows.Close()
	var (
		outlets  []onlinestock.Outlet
		products []onlinestock.Product
		levels   []onlinestock.Level
	)
	outletIDs := map[string]string{} // one string per outlet ID, shared by its levels
	for rows.Next() {
		var part int
		var id, outlet, name string
		var connected, enabled bool
		var buffer, rank, onHand, reserved, version int64
		if err := rows.Scan(&part, &id, &outlet, &name, &connected, &buffer, &rank, &enabled, &onHand, &reserved, &version); err != nil {
			return interpretError(ctx, err)
		}
		if part == 0 {
			outlets = append(outlets, onlinestock.Outlet{ID: id, Name: name, Connected: connected, Buffer: buffer, Rank: int(rank)})
			outletIDs[id] = id
			continue
		}
		if len(products) == 0 || products[len(products)-1].ID != id {
			products = append(products, onlinestock.Product{ID: id, Enabled: enabled})
		}
		if outlet != "" {
			if shared, ok := outletIDs[outlet]; ok {
				outlet = shared
			}
			levels = append(levels, onlinestock.Level{Product: products[len(products)-1].ID, Outlet: outlet,
				OnHand: onHand, Reserved: reserved, Version: version})
		}
	}
	if err := rows.Err(); err != nil {
		return interpretError(ctx, err)
	}
	return fn(outlets, joinLevels(products, levels))
}
