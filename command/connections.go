package command

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

func connectionsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connections",
		Short: "Lists, shows, disconnects and refreshes connections",
		Long: `
A connection is named by an identity ({http.auth.user.id}) or by its
identity hash (64 hex digits, as list prints them and identity-hash
computes them), and by its provider registration when the identity is
connected to more than one (--provider).
`,
	}
	cmd.AddCommand(listCommand(), showCommand(), actionCommand("disconnect", "Disconnects a connection, revoking it at the provider", http.MethodDelete, ""),
		actionCommand("refresh", "Refreshes a connection's access token now", http.MethodPost, "/refresh"))
	return cmd
}

func listCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [--provider <name>] [--needs-reauth] [--after <cursor>] [--limit <n>]",
		Short: "Lists connections, a page at a time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := clientOf(cmd)
			if err != nil {
				return err
			}
			q := url.Values{}
			for _, name := range []string{"provider", "after"} {
				if v, _ := cmd.Flags().GetString(name); v != "" {
					q.Set(name, v)
				}
			}
			if n, _ := cmd.Flags().GetInt("limit"); n > 0 {
				q.Set("limit", strconv.Itoa(n))
			}
			if reauth, _ := cmd.Flags().GetBool("needs-reauth"); reauth {
				q.Set("health", "needs_reauth")
			}
			var page struct {
				Connections []map[string]any `json:"connections"`
				Next        string           `json:"next"`
			}
			if err := c.call(http.MethodGet, "/fitbit/connections?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			printTable(cmd.OutOrStdout(), page.Connections, "identity_hash", "provider", "user_id", "health", "connected_at", "refreshed_at", "last_used_at", "key_id")
			if page.Next != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "more: --after %s\n", page.Next)
			}
			return nil
		},
	}
	cmd.Flags().String("provider", "", "Only this provider registration's connections")
	cmd.Flags().Bool("needs-reauth", false, "Only the connections that need re-authorization")
	cmd.Flags().String("after", "", "Continue after this cursor (printed after a page)")
	cmd.Flags().Int("limit", 0, "Connections per page (default: the server's)")
	return cmd
}

// printTable prints rows as aligned columns, "-" where a row has none.
func printTable(w io.Writer, rows []map[string]any, columns ...string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(columns, "\t")))
	for _, row := range rows {
		cells := make([]string, len(columns))
		for i, c := range columns {
			cells[i] = "-"
			if v, ok := row[c]; ok && v != "" && v != nil {
				cells[i] = fmt.Sprint(v)
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
}

func showCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show <identity|identity-hash> [--provider <name>]",
		Short: "Shows an identity's connections",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, found, err := lookup(cmd, args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), found)
		},
	}
	cmd.Flags().String("provider", "", "Only this provider registration")
	return cmd
}

// actionCommand is a command that acts on one connection: method on
// /fitbit/connections/<provider>/<hash><suffix>.
func actionCommand(name, short, method, suffix string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name + " <identity|identity-hash> [--provider <name>]",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, found, err := lookup(cmd, args[0])
			if err != nil {
				return err
			}
			provider, err := found.only()
			if err != nil {
				return err
			}
			var out map[string]any
			if err := c.call(method, "/fitbit/connections/"+url.PathEscape(provider)+"/"+found.IdentityHash+suffix, nil, &out); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().String("provider", "", "The provider registration (needed when the identity has more than one connection)")
	return cmd
}

// lookup finds the connections of arg (an identity, or a hash), of
// --provider when given.
func lookup(cmd *cobra.Command, arg string) (adminClient, lookupAnswer, error) {
	var found lookupAnswer
	c, err := clientOf(cmd)
	if err == nil {
		err = c.call(http.MethodPost, "/fitbit/connections/lookup", lookupOf(cmd, arg), &found)
	}
	return c, found, err
}

// lookupOf is the lookup request naming arg (an identity, or a hash).
func lookupOf(cmd *cobra.Command, arg string) map[string]string {
	req := map[string]string{"identity": arg}
	if tokenstore.IsIdentityHash(arg) {
		req = map[string]string{"identity_hash": arg}
	}
	if p, _ := cmd.Flags().GetString("provider"); p != "" {
		req["provider"] = p
	}
	return req
}

// lookupAnswer is the answer of POST /fitbit/connections/lookup.
type lookupAnswer struct {
	IdentityHash string           `json:"identity_hash"`
	Connections  []map[string]any `json:"connections"`
}

// only is the provider of the one connection found.
func (a lookupAnswer) only() (string, error) {
	switch len(a.Connections) {
	case 0:
		return "", errors.New("no connection of that identity")
	case 1:
		p, _ := a.Connections[0]["provider"].(string)
		return p, nil
	}
	var names []string
	for _, c := range a.Connections {
		names = append(names, fmt.Sprint(c["provider"]))
	}
	return "", fmt.Errorf("the identity is connected to %s: choose one with --provider", strings.Join(names, ", "))
}
