package onlinestock

// cartStock is what a snapshot's outlets offer of each product of a cart:
// the part of the evaluator that [Service.Reserve] shares, so that a method
// is offered exactly when reserving with it succeeds.
type cartStock struct {
	lines       []Line // summed per product, sorted
	outlets     []Outlet
	contrib     []int64 // contrib[i*len(outlets)+j]: what outlet j gives of line i
	products    []ProductQuote
	purchasable bool
}

func newCartStock(snap Snapshot, lines []Line) cartStock {
	cs := cartStock{
		lines:       lines,
		outlets:     snap.Outlets,
		contrib:     make([]int64, len(lines)*len(snap.Outlets)),
		products:    make([]ProductQuote, len(lines)),
		purchasable: true,
	}
	for i, l := range lines {
		pq := ProductQuote{Product: l.Product, Requested: l.Quantity, Status: LineNotForSale}
		if p, ok := findProduct(snap.Products, l.Product); ok && p.Enabled {
			row := cs.row(i)
			hint := 0
			for k := range p.Levels {
				if j, ok := locate(snap.Outlets, p.Levels[k].Outlet, &hint); ok {
					row[j] = contribution(&p.Levels[k], &snap.Outlets[j])
					pq.Available += row[j]
				}
			}
			pq.Status = LineOK
			if pq.Available < l.Quantity {
				pq.Status = LineShort
			}
		}
		cs.purchasable = cs.purchasable && pq.Status == LineOK
		cs.products[i] = pq
	}
	return cs
}

// row returns what each outlet gives of line i.
func (cs *cartStock) row(i int) []int64 {
	n := len(cs.outlets)
	return cs.contrib[i*n : (i+1)*n]
}

func (cs *cartStock) quoteMethod(m Method, opts QuoteOptions) MethodQuote {
	mq := MethodQuote{Method: m, Orphaned: orphaned(m, cs.outlets)}
	switch {
	case mq.Orphaned && opts.HideOrphanedMethods:
		mq.Reason = ReasonHidden
	case !cs.purchasable:
		mq.Reason = ReasonNotPurchasable
	case m.Rule == Restrict && !mq.Orphaned:
		j, _ := outletIndex(cs.outlets, m.Outlet)
		for i, l := range cs.lines {
			if have := cs.row(i)[j]; have < l.Quantity {
				mq.Shortfalls = append(mq.Shortfalls, Shortfall{Product: l.Product, Requested: l.Quantity, Available: have, Status: LineShort})
			}
		}
		if len(mq.Shortfalls) > 0 {
			mq.Reason = ReasonOutletShort
		}
	}
	mq.Offered = mq.Reason == ReasonNone
	return mq
}
