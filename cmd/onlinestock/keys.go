package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/onlinestock/onlinestock/httpapi"
	"github.com/onlinestock/onlinestock/pgstore"
)

// accessOptions are the flags of the tenants and keys commands.
type accessOptions struct {
	db         *database
	tenant     string
	role, name string
	json       bool
}

// access runs do with the tenants and keys of the database.
func (o *accessOptions) access(cmd *cobra.Command, do func(ctx context.Context, a *pgstore.Access) error) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
	defer cancel()
	pool, err := o.db.pool(ctx, cmd)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgstore.CheckSchema(ctx, pool); err != nil {
		return err
	}
	a, err := pgstore.NewAccess(pool, pgstore.AccessConfig{})
	if err != nil {
		return err
	}
	return do(ctx, a)
}

func tenantsCommand(db *database) *cobra.Command {
	o := &accessOptions{db: db}
	cmd := &cobra.Command{
		Use:   "tenants",
		Short: "Create and list the tenants (retailers) the server serves",
		Long: `A tenant exists once created, here or with its first key ("keys create"):
"serve" answers a key of no other. Every tenant that had written anything
before keys existed was created by the migration that brought them.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("tenants: create or list?")
			}
			return usageErrorf("tenants: unknown %q%s", args[0], suggest(cmd, args[0]))
		},
		RunE: func(*cobra.Command, []string) error { return nil }, // Args refuses every call
	}
	create := &cobra.Command{
		Use:   "create TENANT...",
		Short: "Create tenants; one that exists already is left as it is",
		Args:  nargs(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.access(cmd, func(ctx context.Context, a *pgstore.Access) error {
				for _, tenant := range args {
					created, err := a.CreateTenant(ctx, tenant)
					if err != nil {
						return usageErrorf("tenants create: %v", err)
					}
					if created {
						fmt.Fprintf(cmd.OutOrStdout(), "created tenant %s\n", tenant)
					} else {
						fmt.Fprintf(cmd.OutOrStdout(), "tenant %s exists already\n", tenant)
					}
				}
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tenants, with their count of valid keys",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.access(cmd, func(ctx context.Context, a *pgstore.Access) error {
				tenants, err := a.Tenants(ctx)
				if err != nil {
					return err
				}
				return (&printer{w: cmd.OutOrStdout(), json: o.json}).print(tenants, func(t *table) {
					t.row("TENANT", "CREATED", "KEYS")
					for _, tn := range tenants {
						t.row(tn.Name, tn.Created.UTC().Format(time.RFC3339), tn.Keys)
					}
				})
			})
		},
	}
	list.Flags().BoolVar(&o.json, "json", false, "print JSON instead of a table")
	cmd.AddCommand(create, list)
	return cmd
}

func keysCommand(db *database) *cobra.Command {
	o := &accessOptions{db: db}
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list and revoke the API keys of the HTTP API",
		Long: `An API key reaches one tenant, whose data it may read and change and no
other's, with one role: storefront (availability, quotes, its orders'
reservations), pos (stock, the ledger, fulfilment, the catalog, setup,
events) or admin (everything). Only a hash of each key is kept: "keys
create" prints the key once, on standard output, and it cannot be shown
again. A revoked key is refused from the next request on.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("keys: create, list or revoke?")
			}
			return usageErrorf("keys: unknown %q%s", args[0], suggest(cmd, args[0]))
		},
		RunE: func(*cobra.Command, []string) error { return nil }, // Args refuses every call
	}
	create := &cobra.Command{
		Use:   "create --tenant T --role storefront|pos|admin [--name N]",
		Short: "Create a key, and the tenant with it when it does not exist; print the key",
		Long: `Create a key for --tenant with --role, and the tenant with it when it does
not exist. The key alone is printed on standard output, so that a script
can keep it (KEY=$(onlinestock keys create ...)); what it is goes to
standard error. Store it now: it is never shown again.`,
		Args: nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.tenant == "" {
				return usageErrorf("keys create: --tenant is required")
			}
			role, err := httpapi.ParseRole(o.role)
			if err != nil {
				return usageErrorf("keys create: --role: %v", err)
			}
			return o.access(cmd, func(ctx context.Context, a *pgstore.Access) error {
				key, secret, err := a.CreateKey(ctx, pgstore.NewKey{Tenant: o.tenant, Role: string(role), Name: o.name})
				if err != nil {
					return usageErrorf("keys create: %v", err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), secret)
				fmt.Fprintf(cmd.ErrOrStderr(), "created key %s (%s) for tenant %s: store it now, it is not shown again\n", key.ID, key.Role, key.Tenant)
				return nil
			})
		},
	}
	tenantFlag(create.Flags(), &o.tenant)
	create.Flags().StringVar(&o.role, "role", "", "what the key may do: storefront, pos or admin (required)")
	create.Flags().StringVar(&o.name, "name", "", "who or what holds it, for the listing")

	list := &cobra.Command{
		Use:   "list [--tenant T]",
		Short: "List the keys of a tenant, or of every tenant, revoked ones included",
		Args:  nargs(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.access(cmd, func(ctx context.Context, a *pgstore.Access) error {
				keys, err := a.Keys(ctx, o.tenant)
				if err != nil {
					return err
				}
				return (&printer{w: cmd.OutOrStdout(), json: o.json}).print(keys, func(t *table) {
					t.row("ID", "TENANT", "ROLE", "NAME", "CREATED", "LAST USED", "REVOKED")
					for _, k := range keys {
						t.row(k.ID, k.Tenant, k.Role, k.Name, k.Created.Format(time.RFC3339), when(k.LastUsed), when(k.Revoked))
					}
				})
			})
		},
	}
	list.Flags().StringVar(&o.tenant, "tenant", "", "only this tenant's keys")
	list.Flags().BoolVar(&o.json, "json", false, "print JSON instead of a table")

	revoke := &cobra.Command{
		Use:   "revoke ID...",
		Short: "Revoke keys by ID (as keys list shows them): refused from the next request on",
		Args:  nargs(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.access(cmd, func(ctx context.Context, a *pgstore.Access) error {
				for _, id := range args {
					key, err := a.RevokeKey(ctx, id)
					if err != nil {
						return fmt.Errorf("keys revoke: %w", err)
					}
					fmt.Fprintf(cmd.OutOrStdout(), "revoked key %s (%s) of tenant %s\n", key.ID, key.Role, key.Tenant)
				}
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// when formats an optional time: "" for zero.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
