package main

import (
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

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/onlinestock/onlinestock"
)

func importCommand(db *database) *cobra.Command {
	o := importOptions{db: db}
	cmd := &cobra.Command{
		Use:   "import --tenant T [--batch N] [--reason R] [--ref REF] FILE.csv",
		Short: "Load stock levels from a CSV file (product,outlet,on_hand)",
		Long: `Load stock levels from a CSV file of product,outlet,on_hand rows (a header
row of those names is skipped) as batches of Set changes, with a progress
bar and a rate on standard error.

Every row is checked before any is applied. Each batch applies all or
nothing, and each change's idempotency key is derived from the file and the
row's line, so running the same import again, after an interruption or
twice by mistake, skips what was applied and changes stock once.

The stock ledger records each change with a reason, "count" unless --reason
says otherwise, and a reference, by default "import:" and the start of the
file's SHA-256, which finds the import's movements (onlinestock inspect, or
GET /v1/movements?ref=...).`,
		Args: nargs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return importCSV(cmd, args[0], o)
		},
	}
	fs := cmd.Flags()
	tenantFlag(fs, &o.tenant)
	fs.IntVar(&o.batch, "batch", 5000, "rows per batch, each applied all or nothing")
	fs.BoolVar(&o.quiet, "quiet", false, "print no progress, only the summary")
	fs.StringVar(&o.reason, "reason", string(onlinestock.StockCount), "the stock ledger's reason for every change: sale, return, receipt, count, damage, transfer, correction or your own code")
	fs.StringVar(&o.ref, "ref", "", `the stock ledger's reference for every change (default "import:" and the start of the file's SHA-256)`)
	return cmd
}

type importOptions struct {
	db     *database
	tenant string
	batch  int
	quiet  bool
	reason string
	ref    string
}

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
func importCSV(cmd *cobra.Command, path string, o importOptions) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if o.batch <= 0 || o.batch > onlinestock.MaxBatch {
		return usageErrorf("import: --batch must be from 1 to %d", onlinestock.MaxBatch)
	}
	if len(o.reason) > onlinestock.MaxReasonBytes {
		return usageErrorf("import: --reason: %d bytes, longer than %d", len(o.reason), onlinestock.MaxReasonBytes)
	}
	if err := checkID("--reason", o.reason); err != nil {
		return usageErrorf("import: %v", err)
	}
	if o.ref != "" {
		if err := checkID("--ref", o.ref); err != nil {
			return usageErrorf("import: %v", err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()

	svc, _, closePool, err := o.db.service(ctx, cmd, o.tenant)
	if err != nil {
		return err
	}
	defer closePool()
	setup, err := svc.Setup(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, outlet := range setup.Outlets {
		known[outlet.ID] = true
	}

	// Pass 1: check every row, and hash the file.
	h := sha256.New()
	rows := 0
	err = readRows(io.TeeReader(f, h), func(line int, product, outlet string, onHand int64) error {
		if !known[outlet] {
			return fmt.Errorf("line %d: outlet %q: %w (save it first)", line, outlet, onlinestock.ErrNotFound)
		}
		if err := checkID("product", product); err != nil {
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
	run := "import:" + hex.EncodeToString(h.Sum(nil)[:12])
	keyPrefix, ref := run+":", o.ref
	if ref == "" {
		ref = run
	}

	// Pass 2: apply.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	progress := newProgress(stderr, rows, o.quiet)
	changes := make([]onlinestock.Change, 0, o.batch)
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
		changes = append(changes, onlinestock.Set(product, outlet, onHand).WithKey(keyPrefix+strconv.Itoa(line)).
			WithReason(onlinestock.StockReason(o.reason)).WithRef(ref))
		if len(changes) == o.batch {
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
	fmt.Fprintf(stdout, "imported %s: %d rows in %v (%.0f rows/s): %d applied, %d already applied; ledger ref %s\n",
		path, rows, elapsed.Round(time.Millisecond), float64(rows)/max(elapsed.Seconds(), 1e-9), applied, duplicates, ref)
	return nil
}

// checkID catches the IDs (products, and the reason and reference given)
// the library would refuse, so that they stop the import before anything
// is applied; the library still checks every change it applies.
func checkID(name, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s: empty: %w", name, onlinestock.ErrInvalid)
	case len(id) > onlinestock.MaxIDBytes:
		return fmt.Errorf("%s: %d bytes, longer than %d: %w", name, len(id), onlinestock.MaxIDBytes, onlinestock.ErrInvalid)
	case !utf8.ValidString(id):
		return fmt.Errorf("%s %q: invalid UTF-8: %w", name, id, onlinestock.ErrInvalid)
	case strings.ContainsFunc(id, unicode.IsControl):
		return fmt.Errorf("%s %q: control character: %w", name, id, onlinestock.ErrInvalid)
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

// progress shows how far an import is: rows done of the total and the rate,
// as a bar redrawn in place on a terminal, or as a line at most once a
// second otherwise (a log, a pipe). The last state is always shown.
type progress struct {
	bar      *progressbar.ProgressBar // nil when quiet or there is nothing to do
	w        io.Writer
	terminal bool
	start    time.Time
}

func newProgress(w io.Writer, total int, quiet bool) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	if quiet || total == 0 {
		return p
	}
	out, every := io.Writer(lines{w}), time.Second
	if p.terminal {
		out, every = w, 100*time.Millisecond
	}
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription("importing"),
		progressbar.OptionSetTheme(progressbar.ThemeASCII),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(every),
	)
	// The clock of the rate starts now, not at the first batch's end.
	if p.terminal {
		_ = p.bar.RenderBlank()
	} else {
		p.bar.StartWithoutRender()
	}
	return p
}

// update shows n rows done.
func (p *progress) update(n int) {
	if p.bar != nil {
		_ = p.bar.Set(n) // a progress bar that cannot be drawn is no reason to stop
	}
}

// done ends the bar's line on a terminal.
func (p *progress) done() {
	if p.bar != nil && p.terminal {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) elapsed() time.Duration { return time.Since(p.start) }

// lines writes each redraw of a progress bar, which begins with a carriage
// return to draw over the last one on a terminal, as a line of its own,
// and drops the blank redraws that clear the line.
type lines struct{ w io.Writer }

func (l lines) Write(b []byte) (int, error) {
	s := strings.TrimSpace(strings.ReplaceAll(string(b), "\r", ""))
	if s == "" {
		return len(b), nil
	}
	if _, err := fmt.Fprintln(l.w, s); err != nil {
		return 0, err
	}
	return len(b), nil
}
