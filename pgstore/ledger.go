package pgstore

import (
	"context"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/onlinestock/onlinestock"
)

// The stock ledger is kept like the outbox: a transaction inserts its
// movements unnumbered, under the pending key it draws for its events too,
// and they are numbered after they commit, in pending-key order, under a
// per-tenant lock of their own (see DESIGN.md). Committing therefore takes
// no lock the tenant's writers share, and the numbers are gapless, in
// commit order for the movements of one level.

func (t *tx) AppendMovements(ctx context.Context, movements []onlinestock.Movement) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.movements = append(t.movements, movements...)
	return nil
}

// queueMovements inserts the movements unnumbered, in one statement, under
// the pending key sqlDrawPending drew, in the order appended. The text
// columns travel as one string each, joined by idSeparator (IDs, reasons
// and kinds hold no control character): encoding a text array costs an
// allocation per element, a joined string one in all.
func (t *tx) queueMovements(b *pgx.Batch) error {
	n := len(t.movements)
	if n == 1 {
		m := &t.movements[0]
		at, err := toNanos(m.Time)
		if err != nil {
			return err
		}
		var ns int64
		if at != nil {
			ns = *at
		}
		b.Queue(sqlInsertMovement, t.tenant(), ns, m.Product, m.Outlet, string(m.Kind), string(m.Reason), m.Ref,
			m.OnHandDelta, m.ReservedDelta, m.OnHand, m.Reserved, m.Version, m.Bundle)
		return nil
	}
	var text [6]strings.Builder // product, outlet, kind, reason, ref, bundle
	ints := make([]int64, 6*n)  // time, on-hand delta, reserved delta, on-hand, reserved, version
	for i, m := range t.movements {
		at, err := toNanos(m.Time)
		if err != nil {
			return err
		}
		if at != nil {
			ints[i] = *at
		}
		for k, v := range [6]string{m.Product, m.Outlet, string(m.Kind), string(m.Reason), m.Ref, m.Bundle} {
			if i > 0 {
				text[k].WriteString(idSeparator)
			}
			text[k].WriteString(v)
		}
		ints[n+i], ints[2*n+i], ints[3*n+i], ints[4*n+i], ints[5*n+i] = m.OnHandDelta, m.ReservedDelta, m.OnHand, m.Reserved, m.Version
	}
	b.Queue(sqlInsertMovements, t.tenant(), idSeparator,
		text[0].String(), text[1].String(), text[2].String(), text[3].String(), text[4].String(),
		ints[:n], ints[n:2*n], ints[2*n:3*n], ints[3*n:4*n], ints[4*n:5*n], ints[5*n:], text[5].String())
	return nil
}

// sqlInsertMovements inserts the movements of $3 … $14 (text columns
// joined by $2) under the pending key sqlDrawPending drew. It selects the
// tenant from the setup row, so that a distributed database runs it on the
// tenant's shard. A text column of one empty string splits into no
// element: coalesce puts it back.
const sqlInsertMovements = `INSERT INTO onlinestock_movements (tenant, pending_id, pending_ord, time_ns, product, outlet,
		kind, reason, ref, on_hand_delta, reserved_delta, on_hand, reserved, version, bundle)
	SELECT s.tenant, current_setting('onlinestock.pending')::bigint, m.ord, m.time_ns, m.product, m.outlet,
		m.kind, coalesce(m.reason, ''), coalesce(m.ref, ''), m.ohd, m.rd, m.oh, m.r, m.v, coalesce(m.bundle, '')
	FROM onlinestock_setup s CROSS JOIN unnest(string_to_array($3::text, $2::text), string_to_array($4::text, $2::text),
		string_to_array($5::text, $2::text), string_to_array($6::text, $2::text), string_to_array($7::text, $2::text),
		$8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[],
		string_to_array($14::text, $2::text))
		WITH ORDINALITY AS m(product, outlet, kind, reason, ref, time_ns, ohd, rd, oh, r, v, bundle, ord)
	WHERE s.tenant = $1`

// sqlInsertMovement is sqlInsertMovements for one movement, the usual
// case, from scalars: cheaper to plan and to run than unnesting arrays.
const sqlInsertMovement = `INSERT INTO onlinestock_movements (tenant, pending_id, pending_ord, time_ns, product, outlet,
		kind, reason, ref, on_hand_delta, reserved_delta, on_hand, reserved, version, bundle)
	SELECT s.tenant, current_setting('onlinestock.pending')::bigint, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
	FROM onlinestock_setup s WHERE s.tenant = $1`

// Movements implements [onlinestock.Store]. Like EventsSince, it first
// numbers a bounded chunk of the movements committed since the last
// numbering, then reads, in one round trip. A filter by product (and
// outlet) or by reference reads its own index in sequence order; by outlet
// alone it reads the ledger in sequence order and keeps that outlet's.
func (s *Store) Movements(ctx context.Context, f onlinestock.MovementFilter) ([]onlinestock.Movement, error) {
	out := []onlinestock.Movement{}
	if f.After >= math.MaxInt64 {
		return out, ctx.Err()
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	query, args := sqlMovements, []any{s.cfg.Tenant, int64(f.After), limit, f.Outlet}
	switch {
	case f.Product != "":
		query, args = sqlMovementsOfProduct, append(args, f.Product, f.Ref)
	case f.Ref != "":
		query, args = sqlMovementsOfRef, append(args, f.Ref)
	}
	err := s.readNumbered(ctx, movementLog, limit, func(rows pgx.Rows) error {
		var m onlinestock.Movement
		var seq, at int64
		var kind, reason string
		if err := rows.Scan(&seq, &at, &m.Product, &m.Outlet, &kind, &reason, &m.Ref,
			&m.OnHandDelta, &m.ReservedDelta, &m.OnHand, &m.Reserved, &m.Version, &m.Bundle); err != nil {
			return interpretError(ctx, err)
		}
		m.Seq, m.Time = uint64(seq), fromNanos(&at)
		m.Kind, m.Reason = onlinestock.MovementKind(kind), onlinestock.StockReason(reason)
		out = append(out, m)
		return nil
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

const movementColumns = `seq, time_ns, product, outlet, kind, reason, ref,
	on_hand_delta, reserved_delta, on_hand, reserved, version, bundle`

// sqlMovements reads numbered movements of tenant $1 after $2 in order, at
// most $3, of outlet $4 when it is not empty.
const sqlMovements = `SELECT ` + movementColumns + ` FROM onlinestock_movements
	WHERE tenant = $1 AND seq > $2 AND ($4 = '' OR outlet = $4) ORDER BY seq LIMIT $3`

// sqlMovementsOfProduct reads the movements of product $5 (at outlet $4
// when it is not empty; of reference $6 when it is not empty).
const sqlMovementsOfProduct = `SELECT ` + movementColumns + ` FROM onlinestock_movements
	WHERE tenant = $1 AND product = $5 AND seq > $2 AND seq IS NOT NULL
	AND ($4 = '' OR outlet = $4) AND ($6 = '' OR ref = $6) ORDER BY seq LIMIT $3`

// sqlMovementsOfRef reads the movements of reference $5 (at outlet $4 when
// it is not empty).
const sqlMovementsOfRef = `SELECT ` + movementColumns + ` FROM onlinestock_movements
	WHERE tenant = $1 AND ref = $5 AND ref <> '' AND seq > $2 AND seq IS NOT NULL
	AND ($4 = '' OR outlet = $4) ORDER BY seq LIMIT $3`

// pruneMovements deletes up to limit of the oldest numbered movements
// stamped before before, stopping at the first that is not: what it
// deletes is always a prefix of the ledger.
func (s *Store) pruneMovements(ctx context.Context, before int64, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `WITH batch AS MATERIALIZED (
			SELECT seq, time_ns FROM onlinestock_movements
			WHERE tenant = $1 AND seq IS NOT NULL ORDER BY seq LIMIT $3
		), stop AS (
			SELECT coalesce(min(seq), 9223372036854775807) AS seq FROM batch WHERE time_ns >= $2
		)
		DELETE FROM onlinestock_movements m USING batch b, stop
		WHERE m.tenant = $1 AND m.seq IS NOT NULL AND m.seq = b.seq AND b.seq < stop.seq`,
		s.cfg.Tenant, before, limit)
	if err != nil {
		return 0, interpretError(ctx, err)
	}
	return int(tag.RowsAffected()), nil
}
