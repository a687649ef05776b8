package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/onlinestock/onlinestock"
)

// ReadPage implements [onlinestock.Store]: one pipelined batch, so one
// round trip, holding a read-only REPEATABLE READ transaction, so one
// snapshot. Levels are read in primary-key order, which needs no sort. The
// components of the bundles among ids are read with them, as the catalog
// the Store caches with the setup says; when the setup's version read in
// the batch shows that cache is stale (or there is none), the page is read
// again in a transaction that reads the catalog first.
func (s *Store) ReadPage(ctx context.Context, ids []string, fn func(onlinestock.Page) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cached := s.cache.Load()
	if cached == nil || cached.catalog == nil {
		return s.readPageSlowly(ctx, ids, fn)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return interpretError(ctx, err)
	}
	defer conn.Release()
	want := cached.catalog.WithComponents(ids)
	b := &pgx.Batch{}
	b.Queue(beginView)
	b.Queue(`SELECT id, name, connected, buffer, rank FROM onlinestock_outlets WHERE tenant = $1 ORDER BY id`, s.cfg.Tenant)
	b.Queue(sqlPageSetup, s.cfg.Tenant)
	b.Queue(sqlPageProducts, s.cfg.Tenant, want)
	b.Queue(sqlPageLevels, s.cfg.Tenant, want)
	b.Queue("COMMIT")
	br := conn.SendBatch(ctx, b)
	outlets, primary, version, products, levels, err := scanPage(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		rollbackConn(ctx, conn)
		return interpretError(ctx, err)
	}
	if version != cached.version {
		conn.Release()
		return s.readPageSlowly(ctx, ids, fn)
	}
	return fn(onlinestock.Page{Outlets: outlets, Primary: primary, Catalog: cached.catalog, Products: joinLevels(products, levels)})
}

// readPageSlowly reads a page in a transaction that reads the setup and
// the catalog before the products, and so caches them at their version.
func (s *Store) readPageSlowly(ctx context.Context, ids []string, fn func(onlinestock.Page) error) error {
	var page onlinestock.Page
	err := s.View(ctx, func(tx onlinestock.Tx) error {
		setup, err := tx.Setup(ctx)
		if err != nil {
			return err
		}
		cat, err := tx.Catalog(ctx)
		if err != nil {
			return err
		}
		products, err := tx.Products(ctx, cat.WithComponents(ids))
		if err != nil {
			return err
		}
		page = onlinestock.Page{Outlets: setup.Outlets, Primary: setup.Primary(), Catalog: cat, Products: products}
		return nil
	})
	if err != nil {
		return err
	}
	return fn(page)
}

// The page's products and levels, looked up key by key as the hot reads
// in tx.go are, so that their plan does not depend on statistics; and
// the version of the tenant's setup and its primary outlet.
const (
	sqlPageSetup = `SELECT s.version, coalesce((SELECT r.outlet FROM onlinestock_registers r
			WHERE r.tenant = $1 AND r.id = s.order_register), '')
		FROM onlinestock_setup s WHERE s.tenant = $1`
	sqlPageProducts = `SELECT p.id, p.enabled FROM unnest($2::text[]) WITH ORDINALITY AS k(id, ord)
		CROSS JOIN LATERAL (SELECT id, enabled FROM onlinestock_products
			WHERE tenant = $1 AND id = k.id OFFSET 0) p
		ORDER BY k.ord`
	sqlPageLevels = `SELECT l.product, l.outlet, l.on_hand, l.reserved, l.version
		FROM unnest($2::text[]) WITH ORDINALITY AS k(id, ord)
		CROSS JOIN LATERAL (SELECT product, outlet, on_hand, reserved, version FROM onlinestock_levels
			WHERE tenant = $1 AND product = k.id OFFSET 0) l
		ORDER BY k.ord, l.outlet`
)

// scanPage reads the results of ReadPage's batch. IDs are scanned as the
// driver's bytes, valid until the next row, and turned into strings once:
// a product's ID per product, an outlet's ID per outlet, shared by every
// level.
func scanPage(br pgx.BatchResults) ([]onlinestock.Outlet, string, int64, []onlinestock.Product, []onlinestock.Level, error) {
	if _, err := br.Exec(); err != nil { // BEGIN
		return nil, "", 0, nil, nil, err
	}
	var outlets []onlinestock.Outlet
	outletIDs := map[string]string{}
	var o onlinestock.Outlet
	var rank int64
	_, err := pgx.ForEachRow(nextRows(br), []any{&o.ID, &o.Name, &o.Connected, &o.Buffer, &rank}, func() error {
		o.Rank = int(rank)
		outlets = append(outlets, o)
		outletIDs[o.ID] = o.ID
		return nil
	})
	if err != nil {
		return nil, "", 0, nil, nil, err
	}
	version := int64(-2) // for a tenant never written: no cache matches it
	var primary string
	if _, err := pgx.ForEachRow(nextRows(br), []any{&version, &primary}, func() error { return nil }); err != nil {
		return nil, "", 0, nil, nil, err
	}
	var products []onlinestock.Product
	var p onlinestock.Product
	if _, err := pgx.ForEachRow(nextRows(br), []any{&p.ID, &p.Enabled}, func() error {
		products = append(products, p)
		return nil
	}); err != nil {
		return nil, "", 0, nil, nil, err
	}
	var levels []onlinestock.Level
	var product, outlet pgtype.DriverBytes
	var l onlinestock.Level
	k := 0 // products[k] is the product of the level being read
	_, err = pgx.ForEachRow(nextRows(br), []any{&product, &outlet, &l.OnHand, &l.Reserved, &l.Version}, func() error {
		for k < len(products) && products[k].ID < string(product) {
			k++
		}
		if k < len(products) && products[k].ID == string(product) {
			l.Product = products[k].ID
		} else {
			l.Product = string(product) // a level of a product row not read: not in ids
		}
		var ok bool
		if l.Outlet, ok = outletIDs[string(outlet)]; !ok {
			l.Outlet = string(outlet)
		}
		levels = append(levels, l)
		return nil
	})
	if err != nil {
		return nil, "", 0, nil, nil, err
	}
	if _, err := br.Exec(); err != nil { // COMMIT
		return nil, "", 0, nil, nil, err
	}
	return outlets, primary, version, products, levels, nil
}

// nextRows returns the next result of a batch as rows; an error is reported
// by the rows' Err, which pgx.ForEachRow returns.
func nextRows(br pgx.BatchResults) pgx.Rows {
	rows, _ := br.Query()
	return rows
}
