// Package command registers `caddy fitbit …`, the operator's commands. Most
// are clients of the running instance's admin API (admin.api.fitbit, under
// /fitbit/): they find its address as `caddy reload` and `caddy stop` do
// (--address, else the admin address of --config, else Caddy's default)
// and send their request through caddycmd.AdminAPIRequest, so a unix
// socket or a remote admin endpoint works as it does for those.
package command

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "fitbit",
		Short: "Operates caddy-fitbit: connections, keys, imports",
		Long: `
Operates the fitbit app of a running Caddy through its admin API
(admin.api.fitbit, under /fitbit/ on the admin endpoint), which follows
the admin endpoint's own security: origin checks, and mTLS for remote admin.
Nothing it prints holds a token.

The admin endpoint is --address, else the one of --config (with
--adapter), else Caddy's default (localhost:2019), as for caddy reload.
`,
		CobraFunc: func(cmd *cobra.Command) { build(cmd) },
	})
}

// New returns the `fitbit` command tree, for running it outside Caddy's
// command line (tests).
func New() *cobra.Command {
	cmd := &cobra.Command{Use: "fitbit", SilenceUsage: true, SilenceErrors: true}
	build(cmd)
	return cmd
}

// build adds the flags and subcommands to the fitbit command.
func build(cmd *cobra.Command) {
	cmd.PersistentFlags().String("address", "", "The address of the admin API (default: that of --config, else localhost:2019)")
	cmd.PersistentFlags().StringP("config", "c", "", "The configuration whose admin address to use")
	cmd.PersistentFlags().StringP("adapter", "a", "", "Name of the config adapter to apply (when --config is used)")
	cmd.AddCommand(connectionsCommand(), identityHashCommand(), checkCommand(), rekeyCommand(), importCommand())
}

func identityHashCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "identity-hash <identity>",
		Short: "Prints the storage key of an identity (offline)",
		Long: `
Prints the identity hash the gateway stores an identity's connections
under, and the admin API names them by: the hex SHA-256 of a domain string
and the identity, exactly as the gateway computes it. It needs no running
instance.
`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), tokenstore.IdentityHash(args[0]))
			return err
		},
	}
}

// adminClient calls the fitbit admin API of the instance the flags name.
type adminClient struct{ addr string }

func clientOf(cmd *cobra.Command) (adminClient, error) {
	flags := cmd.Flags()
	address, _ := flags.GetString("address")
	config, _ := flags.GetString("config")
	adapter, _ := flags.GetString("adapter")
	addr, err := caddycmd.DetermineAdminAPIAddress(address, nil, config, adapter)
	if err != nil {
		return adminClient{}, fmt.Errorf("couldn't determine admin API address: %w", err)
	}
	return adminClient{addr}, nil
}

// send makes one request; an answer of 400 or more is an error that
// carries the admin API's message.
func (c adminClient) send(method, uri string, header http.Header, body io.Reader) (*http.Response, error) {
	h := http.Header{}
	maps.Copy(h, header)
	return caddycmd.AdminAPIRequest(c.addr, method, uri, h, body)
}

// call sends in (nil for no body) as JSON and decodes the answer into out.
func (c adminClient) call(method, uri string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.send(method, uri, nil, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("reading the answer of %s %s: %w", method, uri, err)
	}
	return nil
}

// printJSON prints v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
