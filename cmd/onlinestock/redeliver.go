package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/onlinestock/onlinestock"
	"github.com/onlinestock/onlinestock/webhook"
)

// redeliver sends dead-lettered events to a webhook again, in the order
// given, and removes each from the dead letters once the webhook accepts
// it. With --all it redelivers every dead letter of the consumer.
func redeliver(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("redeliver", "--tenant T --webhook-url URL [--consumer C] (SEQ... | --all)", stderr)
	tenant := c.tenantFlag()
	url := c.fs.String("webhook-url", "", "the webhook that receives the events (required)")
	consumer := c.fs.String("consumer", "default", "the Dispatcher's consumer name")
	all := c.fs.Bool("all", false, "redeliver every dead letter of the consumer")
	timeout := c.fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := c.parse(args); err != nil {
		return err
	}
	if *all == (len(c.args) > 0) {
		c.fs.Usage()
		return usageErrorf("redeliver: name the sequence numbers or pass --all")
	}
	if *url == "" {
		c.fs.Usage()
		return usageErrorf("redeliver: --webhook-url is required")
	}
	var seqs []uint64
	for _, a := range c.args {
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
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	_, store, closePool, err := c.service(ctx, *tenant)
	if err != nil {
		return err
	}
	defer closePool()
	notifier, err := webhook.New(webhook.Config{URL: *url, Secret: secret})
	if err != nil {
		return err
	}
	d, err := onlinestock.NewDispatcher(store, notifier, onlinestock.DispatcherConfig{Consumer: *consumer})
	if err != nil {
		return err
	}
	if *all {
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
