package command

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// check and rekey are ops the server streams: JSON Lines of progress, each
// with the cursor to resume from, then one summary line (with "summary").

func checkCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Checks that every stored record opens, and with which key",
		Long: `
Asks the running instance to open every stored record (connections,
pending authorizations, entries) and to count, per encryption key, the
records it seals and the ones no key opens. Progress is shown on a
terminal; the summary is printed at the end.
`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return stream(cmd, "/fitbit/check") },
	}
}

func rekeyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rekey [--after <cursor>]",
		Short: "Re-seals every record under the first encryption key",
		Long: `
Asks the running instance to re-seal every record, entry and pending
authorization under the first of its encryption_keys, so that the others
can be removed once caddy fitbit check counts nothing under them. Progress
is shown on a terminal, each line with the cursor to resume from; an
interrupted run resumes with --after <cursor>. The summary names what no
key could open.
`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			uri := "/fitbit/rekey"
			if after, _ := cmd.Flags().GetString("after"); after != "" {
				uri += "?" + url.Values{"after": {after}}.Encode()
			}
			return stream(cmd, uri)
		},
	}
	cmd.Flags().String("after", "", "Resume after this cursor (from an interrupted run's last progress line)")
	return cmd
}

// stream POSTs to uri and follows its JSON Lines: progress to the terminal
// (when stderr is one), the summary to stdout. A stream that ends before
// its summary is an error naming the cursor to resume from.
func stream(cmd *cobra.Command, uri string) error {
	c, err := clientOf(cmd)
	if err != nil {
		return err
	}
	resp, err := c.send(http.MethodPost, uri, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	progress := io.Discard
	if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		progress = f
	}
	var cursor string
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		var line map[string]any
		if err := json.Unmarshal(lines.Bytes(), &line); err != nil {
			return fmt.Errorf("the instance sent a line that is not JSON: %w", err)
		}
		if _, ok := line["summary"]; ok {
			if err := printJSON(cmd.OutOrStdout(), line); err != nil {
				return err
			}
			return unfinished(line)
		}
		if cur, ok := line["cursor"].(string); ok && cur != "" {
			cursor = cur
		}
		b, _ := json.Marshal(line)
		fmt.Fprintf(progress, "%s\n", b)
	}
	err = errors.Join(lines.Err(), errors.New("the instance ended the stream before its summary"))
	if cursor != "" {
		return fmt.Errorf("%w: resume with --after %s", err, cursor)
	}
	return err
}

// unfinished is the error of a summary that says the run did not finish
// ("done": false), naming its cursor; nil otherwise.
func unfinished(summary map[string]any) error {
	if done, ok := summary["done"].(bool); !ok || done {
		return nil
	}
	err := errors.New("the run did not finish")
	if msg, ok := summary["error"].(string); ok && msg != "" {
		err = fmt.Errorf("the run did not finish: %s", msg)
	}
	if cur, ok := summary["cursor"].(string); ok && cur != "" {
		return fmt.Errorf("%w: resume with --after %s", err, cur)
	}
	return err
}
