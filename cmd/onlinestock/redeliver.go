package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/onlinestock/onlinestock/webhook"
	"github.com/onlinestock/onlinestock/worker"
)

func redeliverCommand(db *database) *cobra.Command {
	o := redeliverOptions{db: db}
	cmd := &cobra.Command{
		Use:   "redeliver --tenant T --webhook-url URL (SEQ... | --all)",
		Short: "Deliver dead-lettered events to a webhook again",
		Long: `Deliver dead-lettered events to a webhook again, in the order given, and
remove each from the dead letters once the webhook accepts it; with --all,
every dead letter of the consumer. The webhook's secret is read from
ONLINESTOCK_WEBHOOK_SECRET.`,
		Args: nargs(0, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return redeliver(cmd, args, o)
		},
	}
	fs := cmd.Flags()
	tenantFlag(fs, &o.tenant)
	fs.StringVar(&o.url, "webhook-url", "", "the webhook that receives the events (required)")
	fs.StringVar(&o.consumer, "consumer", "default", "the Dispatcher's consumer name")
	fs.BoolVar(&o.all, "all", false, "redeliver every dead letter of the consumer")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}

type redeliverOptions struct {
	db                    *database
	tenant, url, consumer string
	all                   bool
	timeout               time.Duration
}

// redeliver sends dead-lettered events to a webhook again, in the order
// given, and removes each from the dead letters once the webhook accepts
// it. With --all it redelivers every dead letter of the consumer.
func redeliver(cmd *cobra.Command, args []string, o redeliverOptions) error {
	stdout := cmd.OutOrStdout()
	if o.all == (len(args) > 0) {
		return usageErrorf("redeliver: name the sequence numbers or pass --all")
	}
	if o.url == "" {
		return usageErrorf("redeliver: --webhook-url is required")
	}
	var seqs []uint64
	for _, a := range args {
		seq, err := strconv.ParseUint(a, 10, 64)
		if err != nil || seq == 0 {
			return usageErrorf("redeliver: %q is not a sequence number", a)
		}
		seqs = append(seqs, seq)
	}
	secret, err := webhook.ParseSecret(os.Getenv("ONLINESTOCK_WEBHOOK_SECRET"))
	if err != nil {
		return usageErrorf("redeliver: ONLINESTOCK_WEBHOOK_SECRET: %v", err)
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	_, store, closePool, err := o.db.service(ctx, cmd, o.tenant)
	if err != nil {
		return err
	}
	defer closePool()
	notifier, err := webhook.New(webhook.Config{URL: o.url, Secret: secret})
	if err != nil {
		return err
	}
	d, err := worker.NewDispatcher(store, notifier, worker.DispatcherConfig{Consumer: o.consumer})
	if err != nil {
		return err
	}
	if o.all {
		dead, err := d.DeadLetters(ctx)
		if err != nil {
			return err
		}
		for _, l := range dead {
			seqs = append(seqs, l.Seq)
		}
	}
	for _, seq := range seqs {
		if err := d.Redeliver(ctx, seq); err != nil {
			return fmt.Errorf("redeliver %d: %w", seq, err)
		}
		fmt.Fprintf(stdout, "redelivered %d\n", seq)
	}
	if len(seqs) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
	}
	return nil
}
