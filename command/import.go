package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/caddy-fitbit/caddy-fitbit/internal/jsonlines"
	"github.com/caddy-fitbit/caddy-fitbit/module"
)

// importPart bounds the lines sent in one request, well below the
// server's module.MaxImportBody.
const importPart = module.MaxImportBody / 4

func importCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import [--file <path>|-] [--dry-run] [--replace]",
		Short: "Imports connections whose tokens you already hold",
		Long: `
Reads JSON Lines, one connection a line:

  {"identity": "alice", "provider": "google_health", "refresh_token": "…",
   "access_token": "…", "expiry": "2026-01-02T15:04:05Z",
   "scopes": ["…"], "user_id": "…"}

(provider defaults to the app's default registration; access_token, expiry,
scopes and user_id are optional) from --file, or stdin (the default, or
--file -): never from the command line, where tokens would be seen by
other users and kept in shell history. The tokens must have been issued to
the OAuth client the gateway is registered as.

Each token is checked with one refresh at the provider before it is
stored, through the gateway's refresh protocol (a provider that rotates
refresh tokens, as Fitbit does, gets the new one persisted first: the
token you imported is then spent). A stored connection is never
overwritten unless --replace is given. --dry-run stores nothing, and
checks the tokens of providers that do not rotate them (Google).

Prints a line per input line (ok, not_checked or failed with a reason;
never a token), then a summary. Exits non-zero if any line failed.
`,
		Args: cobra.NoArgs,
		RunE: runImport,
	}
	cmd.Flags().StringP("file", "f", "-", "The JSON Lines file (- for stdin)")
	cmd.Flags().Bool("dry-run", false, "Check the lines (and the tokens of providers that do not rotate them), store nothing")
	cmd.Flags().Bool("replace", false, "Overwrite an identity's stored connection")
	return cmd
}

func runImport(cmd *cobra.Command, _ []string) error {
	c, err := clientOf(cmd)
	if err != nil {
		return err
	}
	in := cmd.InOrStdin()
	if path, _ := cmd.Flags().GetString("file"); path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	q := url.Values{}
	for _, flag := range []string{"dry-run", "replace"} {
		if on, _ := cmd.Flags().GetBool(flag); on {
			q.Set(map[string]string{"dry-run": "dry_run", "replace": "replace"}[flag], "true")
		}
	}
	out := cmd.OutOrStdout()
	total := module.ImportSummary{Summary: true}
	report := func(res module.ImportResult) {
		switch res.Status {
		case "ok":
			total.OK++
		case "not_checked":
			total.NotChecked++
		default:
			total.Failed++
		}
		total.Lines++
		fmt.Fprintf(out, "line %d: %s", res.Line, res.Status)
		if res.IdentityHash != "" {
			fmt.Fprintf(out, " %s/%s", res.Provider, res.IdentityHash)
		}
		if res.Reason != "" {
			fmt.Fprintf(out, ": %s", res.Reason)
		}
		fmt.Fprintln(out)
	}

	rd := jsonlines.NewReader(in, module.MaxImportLine)
	for first, eof := 1, false; !eof; {
		// A part: whole lines up to importPart bytes. A line too long for
		// the server is reported here and sent as a blank line, which
		// keeps the server's line numbers.
		var part bytes.Buffer
		n := 0
		for part.Len() < importPart {
			line, tooLong, err := rd.Next()
			if err == io.EOF && len(line) == 0 && !tooLong {
				eof = true
				break
			}
			if err != nil && err != io.EOF {
				return err
			}
			n++
			if tooLong {
				report(module.ImportResult{Line: first + n - 1, Status: "failed", Reason: fmt.Sprintf("line longer than %d bytes", module.MaxImportLine)})
				line = nil
			}
			part.Write(bytes.TrimRight(line, "\r\n"))
			part.WriteByte('\n')
			if err == io.EOF {
				eof = true
				break
			}
		}
		if n == 0 {
			break
		}
		if err := c.importPart(q, &part, first, report); err != nil {
			return err
		}
		first += n
	}
	total.DryRun = q.Get("dry_run") != ""
	fmt.Fprintf(out, "%d lines: %d ok, %d not checked, %d failed", total.Lines, total.OK, total.NotChecked, total.Failed)
	if total.DryRun {
		fmt.Fprint(out, " (dry run: nothing stored)")
	}
	fmt.Fprintln(out)
	if total.Failed > 0 {
		return fmt.Errorf("%d of %d lines failed", total.Failed, total.Lines)
	}
	return nil
}

// importPart sends one part, whose first line is line first of the input,
// and reports its results.
func (c adminClient) importPart(q url.Values, part io.Reader, first int, report func(module.ImportResult)) error {
	resp, err := c.send(http.MethodPost, "/fitbit/import?"+q.Encode(), http.Header{"Content-Type": {"application/x-ndjson"}}, part)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var line struct {
			module.ImportResult
			Summary bool `json:"summary"`
		}
		if err := dec.Decode(&line); err != nil {
			return errors.Join(errors.New("the instance ended the import before its summary: the lines after the last reported are not imported"), err)
		}
		if line.Summary {
			return nil
		}
		line.Line += first - 1
		report(line.ImportResult)
	}
}
