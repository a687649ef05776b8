package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/onlinestock/onlinestock"
)

// importCSV loads stock levels from a CSV file of product,outlet,on_hand
// rows (a header row of those names is skipped) as batches of Set changes.
//
// The file is read twice. The first pass checks every row and hashes the
// file, so that a bad row stops the import before anything is applied. The
// second applies the rows in batches, each all or nothing (a row the
// library refuses there stops the import; run it again once the row is
// fixed). Each change's
// idempotency key is derived from the file's hash and the row's line, so
// running the same import again, after an interruption or twice by
// mistake, skips what was applied (within the key retention, 72 hours by
// default) and changes stock once.
func importCSV(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("import", "--tenant T [--batch N] FILE.csv", stderr)
	tenant := c.tenantFlag()
	batch := c.fs.Int("batch", 5000, "rows per batch, each applied all or nothing")
	quiet := c.fs.Bool("quiet", false, "print no progress, only the summary")
	if err := c.parse(args); err != nil {
		return err
	}
	if err := c.wantArgs(1, 1); err != nil {
		return err
	}
	if *batch <= 0 || *batch > onlinestock.MaxBatch {
		return usageErrorf("import: --batch must be from 1 to %d", onlinestock.MaxBatch)
	}
	path := c.args[0]
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()

	svc, _, closePool, err := c.service(ctx, *tenant)
	if err != nil {
		return err
	}
	defer closePool()
	setup, err := svc.Setup(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, o := range setup.Outlets {
		known[o.ID] = true
	}

	// Pass 1: check every row, and hash the file.
	h := sha256.New()
	rows := 0
	err = readRows(io.TeeReader(f, h), func(line int, product, outlet string, onHand int64) error {
		if !known[outlet] {
			return fmt.Errorf("line %d: outlet %q: %w (save it first)", line, outlet, onlinestock.ErrNotFound)
		}
		if err := checkProduct(product); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if onHand < -onlinestock.MaxOnHand || onHand > onlinestock.MaxOnHand {
			return fmt.Errorf("line %d: on_hand %d is outside ±%d: %w", line, onHand, int64(onlinestock.MaxOnHand), onlinestock.ErrInvalid)
		}
		rows++
		return nil
	})
	if err != nil {
		return fmt.Errorf("import %s: nothing applied: %w", path, err)
	}
	keyPrefix := "import:" + hex.EncodeToString(h.Sum(nil)[:12]) + ":"

	// Pass 2: apply.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	progress := newProgress(stderr, rows, *quiet)
	changes := make([]onlinestock.Change, 0, *batch)
	var applied, duplicates int
	flush := func() error {
		if len(changes) == 0 {
			return nil
		}
		results, err := svc.Apply(ctx, changes)
		if err != nil {
			return err
		}
		for _, r := range results {
			if r.Status == onlinestock.Duplicate {
				duplicates++
			} else {
				applied++
			}
		}
		progress.update(applied + duplicates)
		changes = changes[:0]
		return nil
	}
	err = readRows(f, func(line int, product, outlet string, onHand int64) error {
		changes = append(changes, onlinestock.Set(product, outlet, onHand).WithKey(keyPrefix+strconv.Itoa(line)))
		if len(changes) == *batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	progress.done()
	if err != nil {
		return fmt.Errorf("import %s: stopped after %d rows (run it again to resume): %w", path, applied+duplicates, err)
	}
	elapsed := progress.elapsed()
	fmt.Fprintf(stdout, "imported %s: %d rows in %v (%.0f rows/s): %d applied, %d already applied\n",
		path, rows, elapsed.Round(time.Millisecond), float64(rows)/max(elapsed.Seconds(), 1e-9), applied, duplicates)
	return nil
}

// checkProduct catches the product IDs the library would refuse, so that
// pass 1 finds them; the library still checks every change it applies.
func checkProduct(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("product: empty: %w", onlinestock.ErrInvalid)
	case len(id) > onlinestock.MaxIDBytes:
		return fmt.Errorf("product: %d bytes, longer than %d: %w", len(id), onlinestock.MaxIDBytes, onlinestock.ErrInvalid)
	case !utf8.ValidString(id):
		return fmt.Errorf("product %q: invalid UTF-8: %w", id, onlinestock.ErrInvalid)
	case strings.ContainsFunc(id, unicode.IsControl):
		return fmt.Errorf("product %q: control character: %w", id, onlinestock.ErrInvalid)
	}
	return nil
}

// readRows calls row for each data row of a product,outlet,on_hand CSV,
// with its line number, skipping a header row.
func readRows(r io.Reader, row func(line int, product, outlet string, onHand int64) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 3
	cr.ReuseRecord = true
	first := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		line, _ := cr.FieldPos(0)
		if first {
			first = false
			if strings.EqualFold(rec[0], "product") && strings.EqualFold(rec[1], "outlet") && strings.EqualFold(rec[2], "on_hand") {
				continue
			}
		}
		onHand, err := strconv.ParseInt(strings.TrimSpace(rec[2]), 10, 64)
		if err != nil {
			return fmt.Errorf("line %d: on_hand %q is not an integer: %w", line, rec[2], onlinestock.ErrInvalid)
		}
		if err := row(line, rec[0], rec[1], onHand); err != nil {
			return err
		}
	}
}

// progress reports how far an import is, at most once a second: on one
// line rewritten in place on a terminal, a line each time otherwise.
type progress struct {
	w        io.Writer
	total    int
	quiet    bool
	terminal bool
	start    time.Time
	last     time.Time
}

func newProgress(w io.Writer, total int, quiet bool) *progress {
	p := &progress{w: w, total: total, quiet: quiet, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progress) update(n int) {
	now := time.Now()
	if p.quiet || now.Sub(p.last) < time.Second && n < p.total {
		return
	}
	p.last = now
	rate := float64(n) / max(now.Sub(p.start).Seconds(), 1e-9)
	const width = 30
	filled := width
	if p.total > 0 {
		filled = width * n / p.total
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	end := "\n"
	if p.terminal {
		end = ""
		fmt.Fprint(p.w, "\r")
	}
	fmt.Fprintf(p.w, "[%s] %d/%d rows, %.0f rows/s%s", bar, n, p.total, rate, end)
}

func (p *progress) done() {
	if p.terminal && !p.quiet {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) elapsed() time.Duration { return time.Since(p.start) }
